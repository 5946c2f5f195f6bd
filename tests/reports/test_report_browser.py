"""Render the report in headless Chromium: the page must paint and every plot must decode."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.browser

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("chromium")
    if exe is None:
        pytest.skip("chromium not installed (apt-get install chromium)")
    return subprocess.run(
        [exe, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def loaded_plots(report: Path, profile: Path) -> tuple[int, int]:
    """(plots expected, plots decoded) after the page's load event, from the serialised DOM."""
    run = chromium(
        [
            "--run-all-compositor-stages-before-draw",
            "--virtual-time-budget=5000",
            "--dump-dom",
            report.as_uri(),
        ],
        profile,
    )
    body = re.search(r"<body[^>]*>", run.stdout)
    assert body, f"no <body> in the DOM dump; stderr: {run.stderr[-500:]}"
    expected = re.search(r'data-plots-expected="(\d+)"', body.group(0))
    loaded = re.search(r'data-plots-loaded="(\d+)"', body.group(0))
    assert expected and loaded, f"the on-load script did not run: {body.group(0)}"
    return int(expected.group(1)), int(loaded.group(1))


def test_every_plot_decodes(pbmc_report: Path, tmp_path: Path) -> None:
    expected, loaded = loaded_plots(pbmc_report, tmp_path / "profile")
    assert expected == 10 and loaded == expected  # with the marker-gene dot plot
    # the check can fail: a report with one corrupted image counts one plot fewer
    broken = tmp_path / "broken.html"
    source = pbmc_report.read_text(encoding="utf-8")
    broken.write_text(
        source.replace("base64,iVBORw0KGgo", "base64,AAAAAAAAAA", 1), encoding="utf-8"
    )
    assert loaded_plots(broken, tmp_path / "profile") == (expected, expected - 1)


def test_screenshot_is_a_rendered_page(pbmc_report: Path, tmp_path: Path) -> None:
    from PIL import Image

    shot = tmp_path / "report.png"
    run = chromium(
        ["--window-size=1280,2400", f"--screenshot={shot}", pbmc_report.as_uri()],
        tmp_path / "profile",
    )
    assert shot.is_file(), f"no screenshot; stderr: {run.stderr[-500:]}"
    rgb = np.asarray(Image.open(shot).convert("RGB")).astype(np.int64)
    assert rgb.shape == (2400, 1280, 3)
    ink = (rgb.min(axis=-1) < 225).mean()  # text, lines, bars, points
    q = rgb // 8
    colours = np.unique(q[..., 0] * 1024 + q[..., 1] * 32 + q[..., 2]).size
    assert ink > 0.04, f"page looks blank: only {ink:.1%} of pixels are not near-white"
    assert colours > 400, f"only {colours} distinct colours: plots did not render"


def test_diagnostics_page_plots_decode(pbmc_vae, pbmc, tmp_path: Path) -> None:
    from biovae.diagnose import DiagnoseOptions, diagnose
    from biovae.reports.diagnostics_page import write_diagnostics_report

    results = diagnose(
        pbmc_vae, pbmc.subset(range(40)), DiagnoseOptions(iwae_k=10, gap_records=5, gap_steps=5)
    )
    page = write_diagnostics_report(tmp_path / "diagnostics.html", results)
    assert loaded_plots(page, tmp_path / "profile") == (3, 3)  # with the predictive check
