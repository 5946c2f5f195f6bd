"""The full CRC microbiome tables (skipped when the shared data are absent)."""

from __future__ import annotations

import numpy as np
import pytest

from biovae import likelihoods
from biovae.config import LikelihoodConfig
from biovae.data import read_dataset


def test_crc_tables_join_and_fit_the_hurdle_dirichlet_support(shared_data):
    folder = shared_data / "microbiome"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found (set BIOVAE_DATA_DIR)")
    ds = read_dataset(folder / "crc_abundance.tsv", obs_path=str(folder / "crc_metadata.tsv"))
    assert ds.x.shape == (551, 484)
    assert len(set(ds.obs["studyID"])) == 5
    assert set(ds.obs["study_condition"]) == {"CRC", "control"}
    assert 0.7 < float((ds.x == 0).mean()) < 0.85  # README: 76.8 % zeros
    lik = likelihoods.build(LikelihoodConfig("hurdle_dirichlet"), (484,))
    assert lik.validate(ds.x) is None
    assert np.all(ds.x.sum(1) <= 1 + 1e-3)
