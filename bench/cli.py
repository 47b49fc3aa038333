"""The ``bench`` command. Each subcommand is a module of :mod:`bench.commands` with ``register(subparsers)``."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import warnings
from collections.abc import Sequence

from bench.errors import BenchError


def build_parser() -> argparse.ArgumentParser:
    from bench import __version__, commands

    parser = argparse.ArgumentParser(
        prog="bench",
        description="Benchmark compressed AI models: latency, size, accuracy, energy and cost in one table.",
    )
    parser.add_argument("--version", action="version", version=f"bench {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"bench.commands.{info.name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "accepts_extra", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        with warnings.catch_warnings():  # a warning is one line too (a damaged neighbour run, an unstable case)
            warnings.showwarning = lambda message, *_, **__: print(
                f"bench {args.command}: warning: {message}", file=sys.stderr
            )
            return int(args.func(args, extra) or 0)
    except (BenchError, OSError, UnicodeError) as err:  # a bad input or path: one line, never a traceback
        print(f"bench {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"bench {args.command}: interrupted; finished cases are saved", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
