"""`bench report` on a run of thousands of cases: every chart stays bounded in pixels and the page in size, while
summary.csv and capacity.xlsx keep every case (a sweep may have up to 100,000 cases; 3000 gave PNGs of 990×105765
pixels, a 17 MB page, and a latency chart whose bitmap would have needed over 1 GB)."""

from __future__ import annotations

import dataclasses
import html
import json
import re
import struct
from pathlib import Path

import pandas as pd

from bench.report import write_report
from bench.results import Record, RunWriter

MAX_PIXELS = 2500
"""No side of a chart is longer, whatever the case count."""


def fabricate(
    results: Path, models: int, batch_sizes: int, per_group: int, run_id: str = "big", without_reference: int = 0
) -> str:
    """A finished run of ``models × batch_sizes`` groups (model, cpu, batch size) of ``per_group`` cases each: the
    fp32 reference and smaller, faster, slightly less accurate compressions; the last ``without_reference`` models
    lack the fp32 case (their groups are unscored). Written in one go (no fsync per line)."""
    writer = RunWriter(results, run_id, {"suites": [{"name": "s", "path": "s.yaml", "sections": {}}]})
    lines = []
    for m in range(models):
        for batch in range(1, batch_sizes + 1):
            for k in range(1 if m >= models - without_reference else 0, per_group):
                latency = 2.0 * batch / (1 + 0.05 * k)
                record = Record(
                    run_id=run_id,
                    suite="s",
                    model=f"m{m}",
                    compression="fp32" if k == 0 else f"c{k}",
                    engine="eager",
                    device="cpu",
                    threads=1 + k % 2,
                    batch_size=batch,
                    status="ok",
                    case_id=f"m{m}-c{k}-bs{batch}",
                    latency_p50_ms=latency,
                    latency_p99_ms=latency * 1.5,
                    latency_mean_ms=latency,
                    throughput_items_per_s=1000.0 * batch / latency,
                    model_size_bytes=1000 - 10 * k,
                    accuracy=0.9 - 0.001 * k,
                    accuracy_metric="auc",
                    energy_j_per_item=0.01 * (k + 1),
                    extra={
                        "load_curve": [{"qps": q, "p99_ms": latency * q, "meets_slo": q < 30} for q in (10, 20, 40)]
                    },
                )
                lines.append(json.dumps(dataclasses.asdict(record)))
    writer._records.write(("\n".join(lines) + "\n").encode("utf-8"))
    writer.close("finished")
    return run_id


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", data[16:24])


def test_a_run_of_thousands_of_cases_gives_bounded_charts_and_page_and_keeps_every_case(tmp_path):
    models, batch_sizes, per_group = 50, 4, 10  # 2000 cases in 200 groups (200 latency panels before)
    run_id = fabricate(tmp_path / "results", models, batch_sizes, per_group)
    folder, result = write_report(run_id, tmp_path / "results", tmp_path / "reports")
    total = models * batch_sizes * per_group

    charts = sorted(folder.glob("*.png"))
    drawn = {"pareto", "latency_by_compression", "score_ranking", "cost_per_1m", "energy_per_inference", "load_curve"}
    assert {p.stem for p in charts} >= drawn | {"size_accuracy", "throughput_threads"}
    for path in charts:
        width, height = png_size(path)
        assert width <= MAX_PIXELS and height <= MAX_PIXELS, (path.name, width, height)

    page = (folder / "index.html").read_text(encoding="utf-8")
    assert len(page.encode()) < 4_000_000
    best = result.recommendations.iloc[0]
    assert f"deploy <code>{best['case_id']}</code>" in page  # the page still names the recommendation
    assert "more case(s) in summary.csv and capacity.xlsx" in page  # what a chart leaves out is said on the page
    assert "more scored case(s) in summary.csv and capacity.xlsx" in page
    assert "more recommendation(s) in summary.csv" in page  # 200 groups: more than the page's cards

    summary = pd.read_csv(folder / "summary.csv")
    assert len(summary) == total  # every case stays in the files
    assert summary["recommended"].sum() == models * batch_sizes
    cases = pd.read_excel(folder / "capacity.xlsx", sheet_name="cases")
    assert len(cases) == total


def test_the_ranking_shortlist_keeps_each_groups_recommendation_and_reference(tmp_path):
    run_id = fabricate(tmp_path / "results", models=3, batch_sizes=2, per_group=30)
    from bench.report import tables

    result = tables(run_id, tmp_path / "results")
    chosen, left_out = result.shortlist(per_group=3, limit=12)
    assert len(chosen) <= 12 and left_out == len(result.ranking) - len(chosen)
    for _, group in chosen.groupby(["model", "batch_size"]):
        assert group["recommended"].any()
        assert (group["case_id"] == group["reference_case"]).any()  # the fp32 reference, ranked last by P
    small, none_left = result.shortlist(per_group=3, limit=len(result.ranking))
    assert none_left == 0 and len(small) == len(result.ranking)


def capacity_section(page: str) -> tuple[set[str], str]:
    """The case ids of the page's capacity table and the note under it (as a reader sees it)."""
    section = page[page.index("<h2>Capacity plan</h2>") : page.index("<h2>Charts</h2>")]
    note = re.search(r'</table>\s*<p class="note">(.*?)</p>', section, re.S)
    return set(re.findall(r"<tr[^>]*>\s*<td>(m\d+-c\d+-bs\d+)</td>", section)), html.unescape(note[1]) if note else ""


def test_the_capacity_table_keeps_a_row_of_every_group_and_says_what_it_leaves_out(tmp_path, monkeypatch):
    """Was: past the page's row cap the ranking's cases and the ★ plans filled it; unscored groups (no fp32 ran) have
    no ★ and no ranking row, so all 4 of them vanished from the page under a note saying 'the page shows the
    cheapest plan of each group'."""
    from bench.report import html as page_html
    from bench.report import tables

    monkeypatch.setattr(page_html, "MAX_ROWS", 30)
    run_id = fabricate(tmp_path / "results", models=12, batch_sizes=1, per_group=5, without_reference=4)
    result = tables(run_id, tmp_path / "results")
    # each scored group's three 1-thread plans need 3 replicas at one core-hour each: a tie, every one starred
    assert len(result.capacity) == 8 * 5 + 4 * 4 and result.capacity["cheapest"].sum() == 8 * 3
    shown, note = capacity_section(page_html.render_html(result, []))
    assert len(shown) == 30
    assert {case.split("-")[0] for case in shown} == {f"m{m}" for m in range(12)}  # every group has a row
    assert note == (
        "26 more plan row(s) in capacity.xlsx (capacity sheet, every ok case; summary.csv has each case's figures, "
        "not its plan): the page shows the cheapest plan of each group (★), one plan of each of the 4 group(s) "
        "without one: 4 unscored, their reference case did not run, the 16 other plan(s) tied with a cheapest one "
        "(★), then the cases of the ranking above (30 rows)."
    )
    monkeypatch.setattr(page_html, "MAX_ROWS", 10)  # fewer rows than groups: the note counts the groups left out
    shown, note = capacity_section(page_html.render_html(result, []))
    assert len(shown) == 10
    assert note.endswith(
        "(10 rows). 2 group(s) have no plan row on the page at all (2 of them unscored): they are in capacity.xlsx."
    )
    monkeypatch.setattr(page_html, "MAX_ROWS", 300)  # all rows fit: no note
    shown, note = capacity_section(page_html.render_html(result, []))
    assert len(shown) == len(result.capacity) and note == ""
