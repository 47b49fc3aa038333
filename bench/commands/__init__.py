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


def one_line_cells(frame):
    """``frame`` with each text cell as it prints on one line (:func:`bench.errors.one_line_text`), before pandas
    lays out its columns: a host name or a commit read from a run's ``meta.json`` with a control character or a line
    break in it shifted every column after it, or started a line of its own in a table of one line per run."""
    from bench.errors import one_line_text

    def shown(value):
        return one_line_text(value) if isinstance(value, str) else value

    out = frame.copy()
    for column in out.select_dtypes(include=["object", "string"]).columns:
        out[column] = out[column].map(shown)
    return out
