"""biovae diagnose's Monte-Carlo draws are keyed to (seed, record id, diagnostic): its numbers
depend on the set of records, not on their order, and its IWAE is `score --iwae K`'s."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import biovae
from biovae.diagnose import DiagnoseOptions, diagnose

OPTIONS = DiagnoseOptions(iwae_k=40, gap_records=6, gap_steps=5, rd_samples=4, ppc_replicates=0)


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(2)
    x = rng.poisson(rng.gamma(2.0, 2.0, (60, 12))).astype(np.float32)
    table = pd.DataFrame(x, index=[f"cell{i}" for i in range(60)])
    est = biovae.VAE("nb", n_latent=3, hidden=(16,), epochs=3, seed=0).fit(table)
    return est, table


def _numbers(result: dict) -> dict:
    return {
        f"{part}.{key}": value
        for part in ("rate_distortion", "log_likelihood", "amortization")
        for key, value in result[part].items()
    } | {"mi": result["collapse"]["mutual_information"]}


def test_diagnostics_of_shuffled_records_are_the_same(fitted):
    est, table = fitted
    shuffled = table.iloc[np.random.default_rng(5).permutation(len(table))]
    a, b = _numbers(diagnose(est, table, OPTIONS)), _numbers(diagnose(est, shuffled, OPTIONS))
    assert a.keys() == b.keys()
    for key in a:  # float32 rounding of other batch compositions (torch 2.2: 1.4e-5 of a gap s.e.)
        assert a[key] == pytest.approx(b[key], rel=1e-4, abs=1e-5), key
    other_seed = _numbers(diagnose(est, table, DiagnoseOptions(**{**vars(OPTIONS), "seed": 1})))
    assert other_seed["log_likelihood.mean"] != a["log_likelihood.mean"]


def test_the_iwae_estimate_is_score_s(fitted):
    est, table = fitted
    result = diagnose(est, table, OPTIONS)
    scores = est.score_samples(table, iwae=OPTIONS.iwae_k, seed=OPTIONS.seed)
    assert result["log_likelihood"]["mean"] == pytest.approx(float(np.mean(scores)), rel=1e-6)


def test_max_records_diagnoses_a_keyed_subset_and_says_so(fitted):
    """200,000 cells take hours with the default draws; ``max_records`` diagnoses that many,
    chosen by seed and record id, and the result names the subsample."""
    from biovae.diagnose import _smallest_keys

    est, table = fitted
    capped = DiagnoseOptions(**{**vars(OPTIONS), "max_records": 25})
    result = diagnose(est, table, capped)
    assert result["records"] == 25 and result["records_given"] == 60
    assert "25 of the 60 records" in result["subsample"]
    rows = _smallest_keys(np.asarray(table.index, dtype=object), 25, OPTIONS.seed, "records")
    alone = _numbers(diagnose(est, table.iloc[rows], OPTIONS))  # the same records, given alone
    got = _numbers(result)
    for key in alone:
        assert got[key] == pytest.approx(alone[key], rel=1e-4, abs=1e-5), key
    shuffled = table.iloc[np.random.default_rng(1).permutation(len(table))]
    assert _numbers(diagnose(est, shuffled, capped))["mi"] == pytest.approx(got["mi"], rel=1e-5)
    whole = diagnose(est, table, DiagnoseOptions(**{**vars(OPTIONS), "max_records": 60}))
    assert "subsample" not in whole and "records_given" not in whole
    with pytest.raises(biovae.errors.ConfigError, match="max_records"):
        DiagnoseOptions(max_records=1)


def test_fidelity_compares_at_most_fidelity_records_held_out_records(monkeypatch):
    import scipy.sparse as sp

    from biovae import diagnose as diag
    from biovae.config import FitConfig, ModelConfig, NetworkConfig, TrainConfig
    from biovae.inputs import as_dataset

    rng = np.random.default_rng(3)
    x = sp.csr_matrix(rng.poisson(1.0, (70, 8)).astype(np.float32))
    train, held_out = as_dataset(x[:40]), as_dataset(x[40:])
    seen = []

    def table_fidelity(real, fake, counts, seed=0):
        seen.append((real.shape, fake.shape))
        return {"mmd2": 0.0}

    monkeypatch.setattr(diag, "FIDELITY_RECORDS", 10)
    monkeypatch.setattr(diag, "table_fidelity", table_fidelity)
    cfg = FitConfig(
        model=ModelConfig(n_latent=2, network=NetworkConfig(hidden=(8,))),
        train=TrainConfig(epochs=1, batch_size=16),
    )
    diag.fidelity_comparison(train, held_out, cfg)
    assert seen == [((10, 8), (10, 8))] * 3  # 10 of the 30 held-out records, 10 samples
