"""Subcommands of ``bench``: one module each, found automatically; each defines ``register(subparsers)``."""

import argparse

from bench.commands._args import BadEnvironment, FromEnvironment, NotGiven, folder, folder_default, named_folder
from bench.errors import short_name


def results_folder(text: str) -> str:
    """argparse type of ``--results``: a folder (:func:`~bench.commands._args.folder`) whose runs can be listed where
    it exists. One that cannot be (``chmod 000``) is refused in one line naming how it was set: before, every command
    reading it ended on ``error: [Errno 13] Permission denied: 'R'``."""
    from bench.results import unlistable

    text = folder(text)
    reason = unlistable(text)
    if reason is None:
        return text
    why = f"cannot list the runs in it ({reason})"
    if isinstance(text, (FromEnvironment, NotGiven)):
        raise BadEnvironment(f"{named_folder(text, '--results')}: {why}")
    raise argparse.ArgumentTypeError(f"{short_name(text)!r}: {why}")  # argparse names the option


def add_results_option(parser) -> None:
    """The ``--results DIR`` option every command that reads runs shares."""
    from bench.results import default_results_dir

    parser.add_argument(
        "--results",
        metavar="DIR",
        type=results_folder,
        default=folder_default("BENCH_RESULTS_DIR", default_results_dir(), "--results"),
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
