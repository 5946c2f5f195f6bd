"""scikit-learn's model selection on a ConformationVAE: ``cross_val_score`` and
``GridSearchCV`` split the frames (``Structures[idx]``) and score each held-out fold by its mean
per-frame ELBO (``score``).

Both failed before frames could be indexed ("Input should have at least 1 dimension").
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest

from biovae.structure_estimator import STRUCTURE_DEFAULTS, ConformationVAE
from tests.conftest import FIXTURES
from tests.data.test_structure_frames import models_alone

pytest.importorskip("MDAnalysis", reason="needs the structure extra (MDAnalysis)")
pytest.importorskip("sklearn")
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score

PDB = FIXTURES / "ubiquitin_2k39_ca_12.pdb"


def tiny(n_latent: int = 2, epochs: int = 2):
    """A small network trained for a few epochs (seconds for the 12 ubiquitin models)."""
    model = dataclasses.replace(
        STRUCTURE_DEFAULTS.model,
        n_latent=n_latent,
        network=dataclasses.replace(STRUCTURE_DEFAULTS.model.network, hidden=(16,)),
    )
    train = dataclasses.replace(STRUCTURE_DEFAULTS.train, epochs=epochs)
    return dataclasses.replace(STRUCTURE_DEFAULTS, model=model, train=train)


@pytest.fixture(scope="module")
def frames():
    from biovae.data.structure import read_structures

    return read_structures(PDB)


def held_out_scores(config, tmp_path) -> list[float]:
    """Each 3-fold split by hand: a model fitted on the training models read alone from the
    file, scored on the held-out models read alone (named as in the whole file: the draws of
    the ELBO are keyed to the frame ids)."""
    scores = []
    for train, test in KFold(3).split(np.arange(12)):
        fold = [
            dataclasses.replace(
                models_alone(list(rows), tmp_path), frame_ids=tuple(f"frame_{i}" for i in rows)
            )
            for rows in (train, test)
        ]
        est = ConformationVAE("mse", config).fit(fold[0])
        scores.append(est.score(fold[1]))
    return scores


@pytest.fixture(autouse=True)
def quiet_collapse():
    with warnings.catch_warnings():  # a few epochs: the latent space is not used yet
        warnings.simplefilter("ignore")
        yield


def test_cross_val_score_scores_each_held_out_fold_by_its_mean_elbo(frames, tmp_path):
    scores = cross_val_score(ConformationVAE("mse", tiny()), frames, cv=3, error_score="raise")
    assert scores.shape == (3,) and np.isfinite(scores).all()
    np.testing.assert_allclose(scores, held_out_scores(tiny(), tmp_path), rtol=1e-5)


def test_grid_search_over_the_latent_size_runs_end_to_end(frames, tmp_path):
    configs = [tiny(n_latent=1), tiny(n_latent=3)]
    grid = GridSearchCV(ConformationVAE("mse"), {"config": configs}, cv=3, error_score="raise")
    grid.fit(frames)
    means = grid.cv_results_["mean_test_score"]
    by_hand = [np.mean(held_out_scores(c, tmp_path)) for c in configs]
    np.testing.assert_allclose(means, by_hand, rtol=1e-5)
    best = int(np.argmax(means))
    assert grid.best_params_["config"].model.n_latent == (1, 3)[best]
    # refitted on every frame, with the chosen latent size
    assert grid.best_estimator_.transform(frames).shape == (12, (1, 3)[best])
    assert grid.score(frames[:4]) == pytest.approx(grid.best_estimator_.score(frames[:4]))
