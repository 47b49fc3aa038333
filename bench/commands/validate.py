"""``bench validate [PATH...]``: check suites without running them."""

from __future__ import annotations

import argparse
import sys

from bench.commands._args import default_here, non_empty_path
from bench.errors import SuiteError, counted


def validate(args: argparse.Namespace, extra: list[str]) -> int:
    from bench.suite import discover, load_suite
    from bench.suite.files import fragment_line, name_problem

    default_here(args.paths, DEFAULT_PATHS, "bench validate path/to/suite.yaml")
    files, failed = [], 0
    for raw in args.paths:  # one path at a time: a missing one stopped the others from being validated
        try:
            files += discover([raw])
        except SuiteError as err:
            failed += 1
            print(err, file=sys.stderr)
    if not files and not failed:
        print(f"no suite files under {', '.join(args.paths)}", file=sys.stderr)
        return 1
    names: dict[str, str] = {}
    for path in files:
        if path.name.startswith("_"):  # named on the command line: discover keeps the files it is given
            failed += 1
            print(fragment_line(path), file=sys.stderr)
            continue
        problem = name_problem(path)
        if problem:  # valid, but bench run refuses it: ok here would promise a run that never starts
            failed += 1
            print(problem, file=sys.stderr)
            continue
        try:
            suite = load_suite(path)
        except SuiteError as err:
            failed += 1
            print(err, file=sys.stderr)
            continue
        if names.setdefault(suite.name, str(path)) != str(path):
            failed += 1
            print(f"{path}: suite: name '{suite.name}' is also used by {names[suite.name]}", file=sys.stderr)
            continue
        print(f"{path}: ok ({suite.name}: {counted(len(suite.cases), 'case')})")
        if args.list:
            for case in suite.cases:
                print(f"  {case.full_id}")
    return 1 if failed else 0


DEFAULT_PATHS = ["suites/"]
"""What ``bench validate`` checks when no path is named."""


def register(subparsers) -> None:
    parser = subparsers.add_parser("validate", help="check suites without running them")
    parser.add_argument(
        "paths", nargs="*", type=non_empty_path, default=DEFAULT_PATHS, help="suite files or folders (default: suites/)"
    )
    parser.add_argument("--list", action="store_true", help="also list every case id")
    parser.set_defaults(func=validate)
