"""ConformationVAE from a Python / scikit-learn user's side: exported by ``biovae``, sklearn's
conventions, one-line errors for what is not a Structures, and README's example as written."""

from __future__ import annotations

import dataclasses
import re
import warnings

import numpy as np
import pytest

import biovae
from biovae.errors import ConfigError, DataError, NotFittedError
from biovae.latent_usage import PosteriorCollapseWarning
from biovae.structure_estimator import STRUCTURE_DEFAULTS, ConformationVAE
from tests.conftest import FIXTURES, REPO

PDB = FIXTURES / "ubiquitin_2k39_ca_12.pdb"


def small_config(epochs: int = 5, seed: int = 0):
    network = dataclasses.replace(STRUCTURE_DEFAULTS.model.network, hidden=(32,))
    return dataclasses.replace(
        STRUCTURE_DEFAULTS,
        model=dataclasses.replace(STRUCTURE_DEFAULTS.model, network=network),
        train=dataclasses.replace(STRUCTURE_DEFAULTS.train, epochs=epochs, seed=seed),
    )


@pytest.fixture(scope="module")
def frames():
    pytest.importorskip("MDAnalysis", reason="needs the structure extra (MDAnalysis)")
    from biovae.data.structure import read_structures

    return read_structures(PDB)


def test_biovae_exports_the_conformation_vae():
    assert biovae.ConformationVAE is ConformationVAE
    assert "ConformationVAE" in biovae.__all__


def test_unfitted_methods_raise_not_fitted(frames):
    est = ConformationVAE()
    for call in (
        lambda: est.transform(frames),
        lambda: est.encode(frames),
        lambda: est.sample(2),
        lambda: est.selection(),
    ):
        with pytest.raises(NotFittedError, match="not fitted yet"):
            call()


def test_transform_is_the_posterior_mean_and_fit_transform_fits(frames):
    est = ConformationVAE("mse", small_config())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PosteriorCollapseWarning)
        z = est.fit_transform(frames)
        again = ConformationVAE("mse", small_config()).fit(frames)
    assert z.shape == (len(frames), 2)
    np.testing.assert_array_equal(z, est.encode(frames))
    np.testing.assert_array_equal(est.transform(frames), again.encode(frames))


def test_score_samples_is_per_frame_and_score_their_mean(frames):
    """It had neither: no log-likelihood of frames in Python (scikit-learn's score, one
    number, is the mean of the per-frame ELBOs of score_samples)."""
    est = ConformationVAE("mse", small_config(epochs=2))
    with pytest.raises(NotFittedError, match="not fitted yet"):
        est.score(frames)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PosteriorCollapseWarning)
        est.fit(frames)
    per_frame = est.score_samples(frames, n_samples=2, seed=1)
    assert per_frame.shape == (len(frames),) and np.isfinite(per_frame).all()
    assert est.score(frames, n_samples=2, seed=1) == per_frame.mean()
    with pytest.raises(TypeError):  # y is scikit-learn's (ignored): iwae is never taken for it
        est.score(frames, None, 4)
    assert not np.array_equal(est.score_samples(frames, seed=2), est.score_samples(frames))
    # frames moved rigidly are superposed onto the reference first: they score the same
    c, s = np.cos(0.7), np.sin(0.7)
    turn = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    moved = dataclasses.replace(frames, coords=frames.coords @ turn.T + [5.0, -3.0, 2.0])
    np.testing.assert_allclose(est.score_samples(moved, n_samples=2, seed=1), per_frame, atol=1e-3)


def test_a_coordinate_array_is_a_one_line_error_naming_read_structures(frames):
    est = ConformationVAE("mse", small_config())
    message = r"takes Structures, got numpy\.ndarray; read the frames with .*read_structures"
    with pytest.raises(DataError, match="ConformationVAE.fit " + message):
        est.fit(frames.coords)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PosteriorCollapseWarning)
        est.fit(frames)
    for call in (
        lambda: est.transform(frames.coords),
        lambda: est.refine_latent(frames.coords),
        lambda: est.interpolate(frames.coords, frames, 3),
    ):
        with pytest.raises(DataError, match=message) as info:
            call()
        assert "\n" not in str(info.value)


def test_the_collapse_warning_of_a_fit_points_at_the_callers_line(frames):
    # 5 epochs of a small network: no latent dimension is active yet, so fit warns
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ConformationVAE("mse", small_config()).fit(frames)
    collapse = [w for w in caught if issubclass(w.category, PosteriorCollapseWarning)]
    assert collapse, "the 5-epoch fit no longer collapses; pick a fit that does"
    assert {w.filename for w in collapse} == {__file__}


def test_sklearn_clone_params_seed_and_save_load_round_trip(frames, tmp_path):
    from sklearn.base import clone

    est = ConformationVAE("mse", small_config(seed=3))
    assert repr(ConformationVAE()) == "ConformationVAE(loss='geometry')"
    with pytest.raises(ConfigError, match=r"unknown parameter 'epochs'.*loss, config, progress"):
        est.set_params(epochs=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PosteriorCollapseWarning)
        assert est.fit(frames) is est
        twin = clone(est).fit(frames)
        other = ConformationVAE("mse", small_config(seed=4)).fit(frames)
    assert clone(est).get_params() == est.get_params()
    assert not hasattr(clone(est), "vae_")
    np.testing.assert_array_equal(twin.encode(frames), est.encode(frames))
    assert not np.array_equal(other.encode(frames), est.encode(frames))
    est.save(tmp_path / "m")
    loaded = ConformationVAE.load(tmp_path / "m")
    assert loaded.get_params() == est.get_params()
    np.testing.assert_array_equal(loaded.encode(frames), est.encode(frames))
    np.testing.assert_array_equal(loaded.sample(4, seed=1), est.sample(4, seed=1))
    np.testing.assert_array_equal(loaded.reference_, est.reference_)


def test_another_protein_or_residue_count_names_what_differs(frames):
    est = ConformationVAE("mse", small_config())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PosteriorCollapseWarning)
        est.fit(frames)
    keep = slice(0, 70)  # a construct six residues short
    per_atom = ("atom_names", "res_names", "res_ids", "chain_ids", "icodes", "segids")
    fewer = dataclasses.replace(
        frames,
        coords=frames.coords[:, keep],
        **{k: getattr(frames, k)[keep] for k in per_atom if len(getattr(frames, k))},
    )
    with pytest.raises(DataError, match="70 atoms selected but the model has 76"):
        est.transform(fewer)
    glycines = dataclasses.replace(frames, res_names=("GLY",) * 76, source="poly_gly.pdb")
    with pytest.raises(DataError, match=r"poly_gly\.pdb: 70 of 76 residues differ.*GLY 1 against"):
        est.transform(glycines)


def test_readme_structure_example_runs_as_written(frames, tmp_path, monkeypatch):
    """The README's Python example of structures, on the fixture in place of ubiquitin.pdb."""
    from biovae.data.structure import read_structures

    pytest.importorskip("sklearn")  # (its model selection on frames)
    blocks = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    (block,) = [b for b in blocks if "ConformationVAE(" in b]
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PosteriorCollapseWarning)
        scope: dict = {}
        exec(block.replace('"ubiquitin.pdb"', repr(str(PDB))), scope)
    assert scope["z"].shape == (len(frames), 2)
    written = read_structures(tmp_path / "samples.pdb")
    assert written.coords.shape == (10, 76, 3)
    np.testing.assert_allclose(written.coords, scope["coords"], atol=1e-3)  # PDB: 3 decimals
    assert isinstance(scope["model"], ConformationVAE)
    assert scope["picked"].frame_ids == ("frame_7", "frame_2") and len(scope["some"]) == 6
    assert scope["search"].best_params_["config"] in scope["configs"]


def test_frames_given_to_the_plain_vae_are_pointed_at_the_conformation_vae(frames):
    """VAE(...).fit(frames) reached 'X must be 2-D ..., got shape (12, 76, 3)' and stopped
    there: coordinates of frames are ConformationVAE's input."""
    from biovae import PCA, VAE
    from biovae.errors import DataError

    for est in (VAE(epochs=1), PCA(n_latent=2)):
        with pytest.raises(DataError, match=r"shape \(12, 76, 3\); .* ConformationVAE's input"):
            est.fit(frames)
    with pytest.raises(DataError, match=r"got shape \(2, 3, 4\)$"):  # not coordinates
        VAE(epochs=1).fit(np.zeros((2, 3, 4), dtype=np.float32))


@pytest.mark.parametrize("none", [[], np.zeros(12, dtype=bool), slice(5, 5)])
def test_a_selection_of_no_frames_is_a_one_line_error_before_fitting(frames, none):
    """frames[mask] of a mask selecting none reached fit's first frame as the reference and
    stopped on numpy's 'index 0 is out of bounds for axis 0 with size 0'."""
    est = ConformationVAE(loss="mse", config=small_config(epochs=1))
    with pytest.raises(DataError, match=r"ubiquitin_2k39_ca_12\.pdb: no frames; fitting needs"):
        est.fit(frames[none])
    assert not hasattr(est, "vae_")
