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


def test_the_bayes_factor_column_says_it_is_a_log() -> None:
    import numpy as np
    import pandas as pd

    from biovae.reports.de_page import de_section

    p = np.array([0.99, 0.5])
    table = pd.DataFrame(
        {
            "proba_de": p,
            "bayes_factor": np.log(p) - np.log1p(-p),  # the CSV's column: a natural log
            "lfc_mean": [2.0, 0.1],
            "scale1": [1e-3, 1e-3],
            "scale2": [1e-4, 1e-3],
            "is_de_fdr_0.05": [True, False],
        },
        index=["g1", "g2"],
    )
    section = de_section(table)
    head, rows = section.tables[0].columns, section.tables[0].rows
    column = head.index("log Bayes factor")  # was "Bayes factor" over values such as +4.60
    assert rows[0][column] == "+4.60"
