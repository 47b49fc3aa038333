"""``bench report [RUN]``: score a run and write ``reports/<run_id>/`` (HTML, PNG charts, CSV, XLSX)."""

from __future__ import annotations

import argparse
import sys

from bench.commands import add_results_option
from bench.commands._args import add_out_option, input_file, writing_below
from bench.errors import did_you_mean

NOTHING_SCORED = 3
"""``bench report``'s exit status when the report is written but no group could be scored (every group's reference
case failed, was skipped or was not run, or no case was measured at all: every case failed or was skipped): as
``bench gate``'s 3, asked to judge what it could not compare."""


def _profile(text: str) -> str:
    """argparse type: a scoring profile or one of its aliases, checked before the run is read."""
    from bench.judge.scoring import PROFILE_ALIASES, PROFILES

    allowed = (*PROFILES, *PROFILE_ALIASES)
    if text not in allowed:
        raise argparse.ArgumentTypeError(
            f"unknown profile {text!r}.{did_you_mean(text, allowed)} Allowed: {', '.join(allowed)}"
        )
    return text


def partial_line(meta: dict, recorded: int) -> str | None:
    """What to say when the report covers only part of its run: the run is still running (its writer is alive), or
    it stopped (``interrupted``, ``killed``) before every case it selected had a record; ``None`` otherwise."""
    status, run_id = meta.get("status"), meta.get("run_id")
    selected = meta.get("cases")
    of = f"{recorded} of {len(selected)}" if isinstance(selected, list) and len(selected) >= recorded else recorded
    if status == "running":
        from bench.results import running_who

        who = running_who(meta)
        return (
            f"run {run_id} is still running{who}: this report covers the {of} cases recorded so far; "
            "run bench report again once it has finished"
        )
    if status in ("interrupted", "killed") and isinstance(selected, list) and recorded < len(selected):
        return (
            f"run {run_id} was {status}: this report covers the {of} cases it recorded; "
            f"bench run SUITE --resume {run_id} measures the rest"
        )
    return None


def report(args: argparse.Namespace, extra: list[str]) -> int:
    from bench.report import write_report

    with writing_below(args.out, "the report"):
        options = {"prices_file": args.prices, "profile": args.profile, "across_runs": args.across_runs}
        folder, result = write_report(args.run, args.results, args.out, **options)
    from bench.report.tables import group_label

    print(f"run {result.run_id}: report in {folder}/")
    for rec in result.recommendations.to_dict("records"):  # one per hardware target (and batch size)
        where = group_label(rec)
        if isinstance(rec.get("reference_missing"), str) and rec["reference_missing"]:
            print(f"  {where}: not scored: {rec['reference_missing']}")
            continue
        if not isinstance(rec.get("case_id"), str):
            print(f"  {where}: no recommendation ({rec['reasons']})")
            continue
        print(f"  {where}: {rec['case_id']}  P={rec['score']:.3f}")
        print(f"    why: {rec['reasons']}")
        print(f"    confidence: {rec.get('confidence', '')}")
        if isinstance(rec.get("earlier_runs"), str) and rec["earlier_runs"]:
            print(f"    earlier runs: {rec['earlier_runs']}")
        print(f"    robustness: {rec['robustness']}")
    unscored = result.unscored_line(reasons=False)  # each group's line above says why
    if unscored:
        print(f"  {unscored}")
    print(f"  open {folder / 'index.html'}")
    partial = partial_line(result.meta, len(result.cases))
    if partial:  # a report of part of the cases: its recommendation may change once the rest is measured
        print(f"bench report: warning: {partial}", file=sys.stderr)
    if result.nothing_scored:  # written, but it decides nothing: a script must not read that as a recommendation
        measured = (result.cases["status"] == "ok").any()
        why = (
            "no reference case ran"
            if len(result.unscored_groups)
            else ("no measured case could be scored" if measured else "no case was measured")
        )
        print(
            f"bench report: warning: no group could be scored ({why}), so the report shows "
            f"measured figures only and recommends nothing; exit {NOTHING_SCORED}",
            file=sys.stderr,
        )
        return NOTHING_SCORED
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "report",
        help="score a run and write its report (HTML, PNG, CSV, XLSX)",
        description="Score a run (composite score P, constraints, Pareto front, cost, capacity) and write "
        "reports/<run_id>/: index.html, PNG charts, summary.csv, capacity.xlsx. A group whose reference case did "
        "not run is shown unscored, with why; exit 3 when no group could be scored (the report is still written).",
    )
    parser.add_argument("run", nargs="?", help="run id, unique prefix, path or 'latest' (default: latest)")
    add_results_option(parser)
    add_out_option(parser, "reports folder")
    parser.add_argument(
        "--prices", metavar="FILE", type=input_file, help="price table YAML overriding the default and the suite's"
    )
    parser.add_argument(
        "--profile",
        metavar="NAME",
        type=_profile,
        help="scoring profile overriding the suite's (recommendation, search, chat or real-time, edge)",
    )
    parser.add_argument(
        "--across-runs",
        action="store_true",
        help="let this run and its earlier runs on this machine vote, each for its lowest-P case: a case with 90%% of "
        "the votes is recommended; under that, with another case at 10%% or more, the cheaper, then the smaller of "
        "them and this run's recommendation (a near tie across runs)",
    )
    parser.set_defaults(func=report)
