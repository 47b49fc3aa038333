"""Subcommands of ``bench``: one module each, found automatically; each defines ``register(subparsers)``."""


def add_results_option(parser) -> None:
    """The ``--results DIR`` option every command that reads runs shares."""
    from bench.commands._args import environment_default, folder
    from bench.results import default_results_dir

    parser.add_argument(
        "--results",
        metavar="DIR",
        type=folder,
        default=environment_default("BENCH_RESULTS_DIR", default_results_dir()),
        help="results folder (default: $BENCH_RESULTS_DIR or <rootdir>/results/)",
    )
