"""The HTML report in a real browser: headless Chromium renders it with no console message, and the charts show.

Needs the Debian package ``chromium`` (``apt-get install -y chromium``); skipped without it.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from bench.report import write_report

CHROMIUM = shutil.which("chromium")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--enable-logging=stderr",
    "--v=0",
)

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install -y chromium)")


def chromium(tmp_path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def test_report_renders_without_console_errors_and_shows_the_charts(tmp_path):
    from tests.test_report import make_run

    run_id = make_run(tmp_path / "results")
    folder, _ = write_report(run_id, tmp_path / "results", tmp_path / "reports")
    url = (folder / "index.html").resolve().as_uri()

    dom = chromium(tmp_path, "--dump-dom", url)
    console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], console
    assert dom.stdout.count('<img alt="') == 6
    assert "deploy <code>m[bf16-cpu-2t-bs1]</code>" in dom.stdout

    shot = tmp_path / "screenshot.png"
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=1400,7000", "--hide-scrollbars", url)
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)[..., :3]
    assert pixels.shape[:2] == (7000, 1400)
    # chart ink: saturated colours (the blue and orange of the plots), absent from the page's own grey styling
    saturation = pixels.max(axis=2) - pixels.min(axis=2)
    assert np.count_nonzero(saturation > 0.4) > 50_000
