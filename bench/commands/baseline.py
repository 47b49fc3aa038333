"""``bench baseline set RUN`` / ``bench baseline show``: the runs ``bench gate`` compares with by default."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.checks import short_commit
from bench.commands import add_results_option
from bench.errors import counted, first_few, one_line_text


def baseline(args: argparse.Namespace, extra: list[str]) -> int:
    from bench.gate import history

    if args.action == "set":
        from bench.results import read_meta

        for path in history.promote(args.run, args.results, args.suite or None, replace=args.replace):
            # the run promoted, not what was typed for it ("latest", the start of an id)
            print(f"baseline of suite {path.name}: {path} (from run {read_meta(path).get('promoted_from')})")
            _warn_busy(path, history.busy_cases(path))
        root = _shown(history.baseline_root(args.results))
        print(f"commit {root}/ so the nightly job finds it (it is not git-ignored)")
        return 0
    found = history.baselines(args.results)
    if not found:
        print(f"no baselines under {history.baseline_root(args.results)}/ (bench baseline set RUN)")
        return 0
    for suite, meta in found.items():
        env = meta.get("environment") or {}
        promotions = history.promotions_of(meta)
        promotions = promotions or [{"run_id": meta.get("promoted_from") or meta.get("run_id"), "cases": []}]
        for entry in promotions:
            print(
                one_line_text(  # a host name read with a line break started a line of its own
                    f"{suite:24} {counted(len(entry['cases']), 'case')} from run {entry.get('run_id')} "
                    f"(commit {short_commit(entry.get('git_commit') or env.get('git_commit') or '?')}, "
                    f"{entry.get('hostname') or '?'}), promoted {entry.get('promoted_at')}"
                )
            )
    return 0


def _warn_busy(path: Path, busy: dict[str, float]) -> None:
    """Warn, in one line, of promoted cases that ran on a busy machine. Before, they were promoted without a word,
    and every later ``bench gate`` exited 3 on them ("baseline ran on a busy machine ... re-run on a quiet machine"),
    night after night, though what needed measuring again was the baseline."""
    if not busy:
        return
    from bench.hardware import CPU_WAIT_LIMIT

    print(
        one_line_text(
            f"bench baseline: warning: {counted(len(busy), 'case')} of the baseline in {path} ran on a busy machine "
            f"(their threads waited for a CPU up to {max(busy.values()):.0%} of their timed calls; bench gate judges "
            f"at most {CPU_WAIT_LIMIT:.0%}): {first_few(sorted(busy), 3)}; bench gate will not compare their timed "
            "figures (exit 3) until a run measured on a quiet machine is promoted for them"
        ),
        file=sys.stderr,
    )


def register(subparsers) -> None:
    parser = subparsers.add_parser("baseline", help="promote a run to the baseline, or show the baselines")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    setter = actions.add_parser("set", help="promote RUN to the baseline of its suites (results/baseline/<suite>/)")
    setter.add_argument("run", help="run id, unique prefix, path or 'latest'")
    setter.add_argument("--suite", action="append", help="only this suite of the run (repeatable)")
    setter.add_argument(
        "--replace", action="store_true", help="drop the previous baseline's cases this run did not measure"
    )
    shower = actions.add_parser("show", help="list the promoted baselines")
    for sub in (setter, shower):
        add_results_option(sub)
        sub.set_defaults(func=baseline)


def _shown(path: Path) -> str:
    """``path`` relative to the current folder when it is below it (``results/baseline``), else as it is."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
