"""The differential-expression page says how its tables were made."""

from __future__ import annotations

import pytest
from tests.conftest import FIXTURES, needs_anndata

import biovae
from biovae.config import DataConfig, FitConfig, TrainConfig
from biovae.data.readers import read_dataset

pytest.importorskip("matplotlib")


def test_de_page_states_batch_correction_and_the_fdr_target(tmp_path) -> None:
    needs_anndata()
    from biovae.applications import differential as de
    from biovae.reports.de_page import write_de_report

    ds = read_dataset(FIXTURES / "cellbench_100x200.h5ad")
    cfg = FitConfig(data=DataConfig(batch_key="batch"), train=TrainConfig(epochs=1))
    est = biovae.VAE("nb", n_latent=2, hidden=(8,), config=cfg).fit(ds)
    settings = de.DESettings(n_samples=50, fdr=0.1)
    ask = dict(groupby="cell_line", settings=settings)
    corrected = de.one_vs_rest(est, ds, batch_key="batch", **ask)[:1]
    plain = de.one_vs_rest(est, ds, **ask)[:1]
    text = write_de_report(tmp_path / "c.html", corrected, "DE").read_text()
    assert "same level of batch" in text and "false discovery rate at 0.1." in text
    text = write_de_report(tmp_path / "p.html", plain, "DE").read_text()
    assert "no batch correction" in text
