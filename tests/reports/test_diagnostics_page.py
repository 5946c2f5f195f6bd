"""The diagnostics page renders every part of a results dict, and only the parts it holds."""

from __future__ import annotations

import re
from html import escape
from pathlib import Path

from biovae.diagnose import DiagnoseOptions, diagnose
from biovae.reports.diagnostics_page import fidelity_verdict, write_diagnostics_report

SWEEP = [
    {"beta": 0.1, "rate": 9.0, "rate_se": 0.2, "distortion": 40.0, "distortion_se": 1.0,
     "elbo": -49.0, "elbo_se": 1.0, "active_units": 8},
    {"beta": 1.0, "rate": 4.0, "rate_se": 0.1, "distortion": 43.0, "distortion_se": 1.0,
     "elbo": -47.0, "elbo_se": 1.0, "active_units": 5},
    {"beta": 10.0, "rate": 0.2, "rate_se": 0.01, "distortion": 50.0, "distortion_se": 1.0,
     "elbo": -50.2, "elbo_se": 1.0, "active_units": 0},
]  # fmt: skip


def _plots(html: str) -> list[str]:
    return re.findall(r'data-plot="([^"]+)"', html)


def test_full_page_from_real_diagnostics(pbmc_vae, pbmc, tmp_path: Path) -> None:
    results = diagnose(
        pbmc_vae, pbmc.subset(range(60)), DiagnoseOptions(iwae_k=20, gap_records=10, gap_steps=20)
    )
    results["sweep"] = SWEEP
    results["fidelity"] = {
        "VAE": {"classifier_auc": 0.62, "mmd2": 0.01},
        "autoencoder": {"classifier_auc": 0.97, "mmd2": 0.30},
        "PCA": {"classifier_auc": 0.80, "mmd2": 0.05},
    }
    path = write_diagnostics_report(tmp_path / "d.html", results, title="Diagnostics <test>")
    html = path.read_text()
    assert "Diagnostics &lt;test&gt;" in html  # escaped
    assert _plots(html) == [
        "kl-per-dimension",
        "rate-distortion",
        "inference-gaps",
        "predictive-check",
    ]
    assert 'data-plots-expected="4"' in html
    figures = re.findall(r"<figure>.*?</figure>", html, flags=re.DOTALL)
    assert len(figures) == 4 and all("<figcaption>" in f for f in figures)  # each one explained
    assert escape(results["predictive"]["verdict"]) in html
    assert escape(results["collapse"]["verdict"]) in html
    assert "β = 1 (best ELBO)" in html  # the sweep point with the highest ELBO is marked
    assert "closer to the data than the autoencoder&#x27;s on 2 of 2 metrics" in html
    assert f"{results['amortization']['amortization_gap']:.3f}" in html
    assert "http://" not in html and "https://" not in html  # self-contained


def test_sweep_only_page_has_no_empty_sections(tmp_path: Path) -> None:
    html = write_diagnostics_report(tmp_path / "s.html", {"records": 3, "sweep": SWEEP}).read_text()
    assert _plots(html) == ["rate-distortion"]
    assert "inference gaps" not in html.lower() and "posterior collapse" not in html.lower()


def test_fidelity_verdict_reads_each_metric_the_right_way() -> None:
    fid = {
        "VAE": {"site_frequency_r": 0.9, "pair_covariance_r": 0.2, "classifier_auc": 0.45},
        "autoencoder": {"site_frequency_r": 0.8, "pair_covariance_r": 0.5, "classifier_auc": 0.7},
    }
    verdict = fidelity_verdict(fid, list(fid["VAE"]))
    # r: higher wins (site yes, pair no); AUC: distance from 0.5 (0.05 < 0.2, yes)
    assert "on 2 of 3 metrics (site-frequency r, classifier AUC)" in verdict


def test_inference_gaps_of_one_record_draw_without_error_bars() -> None:
    from biovae.reports.plots_diagnostics import inference_gaps

    gap = {"n": 1, "amortization_gap": 0.8, "approximation_gap": 1.2}
    for se in (float("nan"), None):  # NaN in memory, null once read back from JSON
        png = inference_gaps({**gap, "amortization_gap_se": se, "approximation_gap_se": se})
        assert png.startswith(b"\x89PNG")


def test_an_undefined_fidelity_metric_is_a_dash_and_left_out_of_the_verdict(
    tmp_path: Path,
) -> None:
    """One variable position: every held-out pair covariance is 0, so pair-covariance r is NaN
    in memory (null in the JSON); the page showed "nan" and counted it as a lost metric."""
    nan = float("nan")
    fid = {
        "VAE": {"site_frequency_r": 0.9, "pair_covariance_r": nan},
        "autoencoder": {"site_frequency_r": 0.8, "pair_covariance_r": nan},
        "PCA": {"site_frequency_r": 0.7, "pair_covariance_r": None},
    }
    html = write_diagnostics_report(tmp_path / "f.html", {"fidelity": fid}).read_text()
    assert "nan" not in html.lower().replace("nans", "")
    assert html.count("<td>—</td>") == 3 and "a correlation needs both sides to vary" in html
    assert "on 1 of 1 metrics (site-frequency r)" in html


def test_a_negative_mutual_information_estimate_reads_as_zero_as_in_the_verdict() -> None:
    """A conditional VAE on CellBench gave Î = −0.0102: the verdict said "≈ 0 nats", the note
    beside it "I(x; z) ≈ -0.010 nats", a value mutual information cannot take."""
    from biovae.reports.diagnostics_page import collapse_section

    col = {
        "n_latent": 2, "n_active": 1, "active": [True, False], "kl_per_dim": [0.9, 0.1],
        "unit_variance": [0.5, 0.001], "verdict": "…", "remedies": [],
        "mutual_information": {"mutual_information": -0.0102, "max": 4.6, "n": 100},
    }  # fmt: skip
    notes = " ".join(collapse_section({"collapse": col}).notes)
    assert "I(x; z) ≈ 0 nats (estimate -0.010" in notes and "≈ -0.010" not in notes
    col["mutual_information"]["mutual_information"] = 0.25
    assert "I(x; z) ≈ 0.250 nats," in " ".join(collapse_section({"collapse": col}).notes)
