"""ConformationVAE: latent refinement of path end points (the amortisation gap of a frame)."""

from __future__ import annotations

import copy
import dataclasses
import json
import re

import numpy as np
import pytest

from biovae.applications.structures.geometry import rmsd
from biovae.errors import DataError, ModelFileError
from biovae.structure_estimator import STRUCTURE_DEFAULTS, ConformationVAE


@pytest.fixture(scope="module")
def fitted():
    pytest.importorskip("MDAnalysis", reason="needs the structure extra (MDAnalysis)")
    from biovae.data.structure import read_structures
    from tests.conftest import FIXTURES

    structures = read_structures(FIXTURES / "ubiquitin_2k39_ca_12.pdb")
    cfg = dataclasses.replace(
        STRUCTURE_DEFAULTS,
        model=dataclasses.replace(
            STRUCTURE_DEFAULTS.model,
            network=dataclasses.replace(STRUCTURE_DEFAULTS.model.network, hidden=(32,)),
        ),
        train=dataclasses.replace(STRUCTURE_DEFAULTS.train, epochs=20, seed=0),
    )
    return ConformationVAE("mse", cfg).fit(structures), structures


def test_refinement_finds_the_latent_point_that_generated_a_frame(fitted):
    model, structures = fitted
    # ground truth: a frame that the decoder produces exactly at a known z*, away from where
    # the encoder puts the training frames; the best reconstruction has RMSD 0
    z_true = np.array([[1.5, -1.0]], np.float32)
    target = structures.with_coords(model.decode(z_true))
    before = rmsd(model.decode(model.encode(target)), target.coords)[0]
    after = rmsd(model.decode(model.refine_latent(target, steps=200)), target.coords)[0]
    assert before > 0.1  # the amortised guess misses
    assert after < 0.1 * before


def test_zero_steps_are_the_posterior_means_and_parameters_stay_trainable(fitted):
    model, structures = fitted
    np.testing.assert_array_equal(
        model.refine_latent(structures, steps=0), model.encode(structures)
    )
    model.refine_latent(structures, steps=3)
    assert all(p.requires_grad for p in model.vae_.model_.parameters())


def test_refined_ends_reconstruct_at_least_as_well(fitted):
    model, structures = fitted
    z0, z1 = model.encode(structures), model.refine_latent(structures, steps=20)
    coords = model.align(structures)
    err0 = ((model.decode(z0) - coords) ** 2).sum((1, 2))
    err1 = ((model.decode(z1) - coords) ** 2).sum((1, 2))
    assert np.all(err1 <= err0 + 1e-4)


def test_interpolation_ends_are_each_end_refined_on_its_own(fitted):
    model, structures = fitted
    # the path refines both ends in one batch; the reference refines each frame alone
    start, end = (structures.with_coords(structures.coords[[i]]) for i in (2, 9))
    path = model.interpolate(start, end, 3, refine_steps=15)
    for got, frame in ((path[0], start), (path[-1], end)):
        alone = model.decode(model.refine_latent(frame, steps=15))[0]
        np.testing.assert_allclose(got, alone, atol=1e-4)
    plain = model.decode(model.encode(end))[0]
    assert np.abs(path[-1] - plain).max() > 1e-3  # refinement moved the end


def test_decode_takes_a_reversed_latent_path(fitted):
    model, _ = fitted
    z = np.linspace([-1.0, 0.0], [1.0, 0.5], 4)
    np.testing.assert_allclose(model.decode(z[::-1]), model.decode(z)[::-1], atol=1e-6)


def test_decode_refuses_latent_points_of_another_shape_or_not_finite(fitted):
    # one 2-D point z of shape (2,) was decoded as two structures of 38 atoms (the model has
    # 76); a (3, 5) array was a torch shape traceback
    model, _ = fitted
    for z in (np.zeros(2), np.zeros((3, 5)), np.zeros((2, 2, 2))):
        with pytest.raises(
            DataError,
            match=re.escape(f"2) array for this model's 2 latent dimensions, got shape {z.shape}"),
        ):
            model.decode(z)
    with pytest.raises(DataError, match="got NaN or infinite values"):
        model.decode(np.array([[0.0, np.nan]]))
    assert model.decode(np.zeros(2)[None]).shape == (1, 76, 3)


def test_frames_of_none_are_a_one_line_error(fitted):
    # zero frames were numpy's "need at least one array to stack" from the superposition
    model, structures = fitted
    empty = structures.with_coords(structures.coords[:0])
    for call in (model.encode, lambda s: model.interpolate(s, structures, 3, refine_steps=0)):
        with pytest.raises(DataError, match=r"ubiquitin_2k39_ca_12\.pdb: no frames; give at least"):
            call(empty)


def test_geometry_fit_marks_bonds_that_are_cis_in_the_training_frames(fitted, tmp_path):
    _, structures = fitted
    coords = structures.coords.copy()
    # shorten virtual bond 30 → 31 to 3.0 Å in every frame by moving the rest of the chain
    v = coords[:, 31] - coords[:, 30]
    shift = v * (1 - 3.0 / np.linalg.norm(v, axis=-1, keepdims=True))
    coords[:, 31:] -= shift[:, None]
    model = ConformationVAE("geometry", fitted[0].config).fit(structures.with_coords(coords))
    assert model.vae_.config_.model.likelihood.cis_bonds == (30,)
    loaded = ConformationVAE.load(model.save(tmp_path / "m"))
    assert loaded.vae_.config_.model.likelihood.cis_bonds == (30,)
    bonds = np.linalg.norm(np.diff(loaded.sample(5), axis=1), axis=-1)
    # a 20-epoch toy model leaves residual violations (10 rounds), so only check that bond 30
    # is generated at cis rather than trans length; the projection itself is tested in
    # tests/likelihoods/test_ca_chain.py
    assert np.all(bonds[:, 30] < 3.2) and np.median(np.delete(bonds, 30, axis=1)) > 3.6


def test_geometry_fit_puts_no_bond_across_missing_residues_or_chains(fitted, tmp_path):
    from biovae.data.structure import Structures

    _, s = fitted
    keep = np.r_[0:30, 36:76]  # residues 31-36 missing: atoms 29 and 30 are 7-9 Å apart
    chains = tuple("A" if i < 50 else "B" for i in keep)  # and a second chain from atom 40 on
    gap = Structures(
        s.coords[:, keep],
        tuple(np.asarray(s.atom_names)[keep]),
        tuple(np.asarray(s.res_names)[keep]),
        s.res_ids[keep],
        chains,
        "gap",
    )
    model = ConformationVAE("geometry", fitted[0].config).fit(gap)
    assert model.vae_.config_.model.likelihood.chain_breaks == (29, 43)
    loaded = ConformationVAE.load(model.save(tmp_path / "m"))
    assert loaded.vae_.config_.model.likelihood.chain_breaks == (29, 43)
    # refitted on the unbroken protein, a loaded model finds that it has no breaks: the breaks
    # were learned from the data, not asked for (they were kept, leaving bond 29 unenforced)
    assert loaded.config == fitted[0].config
    again = ConformationVAE.load(tmp_path / "m").fit(s)
    assert again.vae_.config_.model.likelihood.chain_breaks == ()
    # the projection no longer closes the gap to a 3.8 Å bond (helper probe: 3.80 in every
    # frame before); a 20-epoch model has not learned the gap's 7-9 Å yet, so only that
    gap_lengths = np.linalg.norm(
        loaded.reconstruct(gap)[:, 30] - loaded.reconstruct(gap)[:, 29], axis=-1
    )
    assert np.abs(gap_lengths - 3.8).min() > 0.1


def test_the_same_protein_with_another_chain_id_embeds_alike(fitted):
    model, s = fitted
    renamed = dataclasses.replace(s, chain_ids=("B",) * s.n_atoms)
    np.testing.assert_array_equal(model.encode(renamed), model.encode(s))


def test_fewer_than_three_atoms_or_no_bond_angle_is_a_one_line_error():
    from biovae.applications.structures.validity import assess
    from biovae.data.structure import Structures
    from biovae.errors import DataError
    from biovae.structure_estimator import ConformationVAE

    rng = np.random.default_rng(0)
    two = Structures(rng.normal(size=(6, 2, 3)) * 3.8, ("CA",) * 2, ("GLY",) * 2, [1, 2], "AA")
    with pytest.raises(DataError, match="2 atoms selected; a conformation model needs at least 3"):
        ConformationVAE("geometry").fit(two)
    with pytest.raises(DataError, match="three consecutive bonded"):
        assess(two.coords, two.coords)


def test_given_cis_bonds_still_let_chain_breaks_be_found(fixtures):
    # setting one of cis_bonds / chain_breaks used to switch off finding the other
    from biovae.config import LikelihoodConfig
    from biovae.data.structure import read_structures

    one = read_structures(fixtures / "ubiquitin_2k39_ca_12.pdb")
    coords = one.coords.copy()
    coords[:, 38:] += 20.0  # a second chain, 20 Å away
    two = dataclasses.replace(one, chain_ids=("A",) * 38 + ("B",) * 38).with_coords(coords)
    cfg = dataclasses.replace(
        STRUCTURE_DEFAULTS,
        model=dataclasses.replace(
            STRUCTURE_DEFAULTS.model, likelihood=LikelihoodConfig("ca_chain", cis_bonds=(5,))
        ),
        train=dataclasses.replace(STRUCTURE_DEFAULTS.train, epochs=1),
    )
    lik = ConformationVAE("geometry", cfg).fit(two).vae_.config_.model.likelihood
    assert lik.cis_bonds == (5,) and lik.chain_breaks == (37,)  # the bond 37–38


def test_a_failed_refit_keeps_the_fitted_model_whole(fitted):
    model, structures = fitted
    model = copy.copy(model)  # the module's fixture stays as it was
    z = model.encode(structures)
    one_frame = structures.with_coords(structures.coords[5:6])
    with pytest.raises(DataError, match="1 record; fitting needs at least 2"):
        model.fit(one_frame, reference=structures.coords[5])
    np.testing.assert_array_equal(model.encode(structures), z)  # same reference frame


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("reference", lambda r: r[:70], r"'reference' entry is damaged .*76 atoms"),
        ("reference", lambda r: [[0.0, 0.0, None]] * len(r), r"'reference' entry is damaged"),
        ("loss", lambda _: "bogus", r"'loss' entry is damaged \('bogus'\)"),
    ],
)
def test_a_damaged_structure_entry_is_a_model_file_error(fitted, tmp_path, key, value, message):
    import json

    from biovae.errors import ModelFileError

    model, structures = fitted
    folder = model.save(tmp_path / "m")
    (folder / "SHA256SUMS").unlink()  # as saved before it was kept: the edit reaches the check
    meta = json.loads((folder / "metadata.json").read_text())
    meta["structure"][key] = value(meta["structure"][key])
    (folder / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match=message):  # not a traceback from Kabsch
        ConformationVAE.load(folder).encode(structures)


def test_a_damaged_saved_config_names_the_metadata_file(fitted, tmp_path):
    # it was a ConfigError naming only "structure.config", not the file to restore
    model, _ = fitted
    folder = model.save(tmp_path / "m")
    (folder / "SHA256SUMS").unlink()  # as saved before it was kept: the edit reaches the check
    meta = json.loads((folder / "metadata.json").read_text())
    meta["structure"]["config"]["model"]["foo"] = 1
    (folder / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match=r"/m/metadata.json: the structure's 'config' entry"):
        ConformationVAE.load(folder)


def test_load_model_refuses_a_structure_folder(fitted, tmp_path, capsys):
    """``biovae.load_model`` (and every command built on it: diagnose, trajectory, de, ...)
    gave a bare VAE of a structure model, which reads coordinates not superposed on its
    reference frame; the CLI said 'cannot tell the file format' of the structure file."""
    import biovae
    from biovae.cli.main import main
    from biovae.errors import ConfigError
    from tests.conftest import FIXTURES

    model, _ = fitted
    folder = model.save(tmp_path / "m")
    with pytest.raises(ConfigError, match=r"is a structure model.*ConformationVAE\.load"):
        biovae.load_model(folder)
    assert isinstance(ConformationVAE.load(folder), ConformationVAE)  # the way to load it
    pdb = FIXTURES / "ubiquitin_2k39_ca_12.pdb"
    assert main(["diagnose", str(folder), str(pdb), "--out", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "is a structure model: use 'biovae structure" in err
    assert not (tmp_path / "d").exists()
