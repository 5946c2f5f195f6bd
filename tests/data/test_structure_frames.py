"""Selecting frames of an ensemble, ``frames[idx]``: the frames of those models as if read
alone (ground truth: the file cut to those models), with their ids and numbers, and the atoms
shared; bad keys are an IndexError naming the fault.

``Structures`` had neither ``__getitem__`` nor ``shape``: ``frames[idx]`` was a TypeError and
scikit-learn could not split the frames (``cross_val_score`` failed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from biovae.data.structure import Structures, read_structures

pytest.importorskip("MDAnalysis", reason="needs the structure extra (MDAnalysis)")

PDB = Path(__file__).resolve().parents[1] / "fixtures" / "ubiquitin_2k39_ca_12.pdb"


@pytest.fixture(scope="module")
def frames() -> Structures:
    return read_structures(PDB)


def models_alone(positions, tmp_path: Path) -> Structures:
    """The fixture cut to its models at 0-based ``positions`` (in that order), read back."""
    models, model = [], None
    for line in PDB.read_text().splitlines(keepends=True):
        if line.startswith("MODEL"):
            model = [line]
        elif model is not None:
            model.append(line)
            if line.startswith("ENDMDL"):
                models.append(model)
                model = None
    path = tmp_path / f"models_{'_'.join(map(str, positions))}.pdb"
    path.write_text("".join(line for i in positions for line in models[i]) + "END\n")
    return read_structures(path)


def assert_same_atoms(a: Structures, b: Structures) -> None:
    assert (a.atom_names, a.res_names, a.chain_ids) == (b.atom_names, b.res_names, b.chain_ids)
    assert (a.icodes, a.segids, a.selected_chains) == (b.icodes, b.segids, b.selected_chains)
    np.testing.assert_array_equal(a.res_ids, b.res_ids)


def test_selected_frames_are_those_models_read_alone_with_their_ids_and_numbers(frames, tmp_path):
    picked = frames[np.array([7, 2, 11])]
    alone = models_alone([7, 2, 11], tmp_path)
    np.testing.assert_allclose(picked.coords, alone.coords, atol=1e-3)
    assert_same_atoms(picked, alone)
    assert len(picked) == 3 and picked.shape == (3, 76, 3) and picked.source == frames.source
    # the records keep the names and file numbers of their frames, not 0, 1, 2
    records = picked.to_dataset()
    assert tuple(records.ids) == ("frame_7", "frame_2", "frame_11") == picked.frame_ids
    np.testing.assert_array_equal(records.obs["frame"], [7, 2, 11])
    np.testing.assert_allclose(records.x, alone.coords.reshape(3, -1), atol=1e-3)
    # a selection of a selection counts in the selection, and keeps the original names
    again = picked[[-1, 0]]
    assert again.frame_ids == ("frame_11", "frame_7")
    np.testing.assert_array_equal(again.to_dataset().obs["frame"], [11, 7])


def test_slices_masks_lists_and_negative_positions(frames, tmp_path):
    mask = np.zeros(12, dtype=bool)
    mask[[1, 4, 5]] = True
    np.testing.assert_allclose(
        frames[mask].coords, models_alone([1, 4, 5], tmp_path).coords, atol=1e-3
    )
    assert frames[mask].frame_ids == ("frame_1", "frame_4", "frame_5")
    last = frames[-1]  # one frame, an ensemble of one
    np.testing.assert_allclose(last.coords, models_alone([11], tmp_path).coords, atol=1e-3)
    assert last.frame_ids == ("frame_11",) and last.shape == (1, 76, 3)
    assert frames[np.int64(-12)].frame_ids == ("frame_0",)
    assert frames[-3:].frame_ids == frames[[9, 10, 11]].frame_ids == frames[[-3, -2, -1]].frame_ids
    assert frames[::-4].frame_ids == ("frame_11", "frame_7", "frame_3")
    assert frames[np.array([3]), ...].frame_ids == ("frame_3",)  # scikit-learn's X[idx, ...]
    assert len(frames[[]]) == 0 and len(frames[np.zeros(12, dtype=bool)]) == 0
    assert [f.frame_ids[0] for f in frames][:2] == ["frame_0", "frame_1"]  # iteration stops


def test_as_an_array_frames_are_their_coordinates(frames):
    # with __getitem__ alone numpy took the frames apart as nested sequences (a frame of a
    # frame of a frame ...) until it gave up at 64 dimensions
    np.testing.assert_array_equal(np.asarray(frames), frames.coords)
    assert np.asarray(frames[[1]], dtype=np.float64).dtype == np.float64
    assert not np.shares_memory(np.array(frames), frames.coords)


def test_a_selection_is_a_new_ensemble_and_the_atoms_are_shared(frames):
    coords = frames.coords.copy()
    picked = frames[1:3]
    picked.coords[:] = 0.0  # a copy: the ensemble selected from is not changed
    np.testing.assert_array_equal(frames.coords, coords)
    s = Structures(
        np.arange(36, dtype=np.float32).reshape(3, 4, 3),
        ("CA",) * 4,
        ("ALA", "GLY", "SER", "LYS"),
        np.array([5, 6, 6, 7]),
        ("A", "A", "", ""),
        "toy.pdb",
        icodes=("", "", "A", ""),
        selected_chains=("A", "PROB"),
        segids=("", "", "PROB", "PROB"),
        frame_ids=("m1", "m2", "m3"),
    )
    sub = s[[2, 0]]
    assert_same_atoms(sub, s)
    assert sub.features() == s.features() and sub.source == "toy.pdb"
    assert sub.frame_ids == ("m3", "m1")
    np.testing.assert_array_equal(sub.coords, s.coords[[2, 0]])
    np.testing.assert_array_equal(sub.frame_numbers, [2, 0])
    assert len(sub.with_coords(sub.coords).frame_numbers) == 0  # new coordinates: new frames


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (12, r"frame 12 is out of range for 12 frames \(0 … 11, or -12 … -1 from the end\)"),
        (-13, "frame -13 is out of range for 12 frames"),
        ([0, 12], "frame 12 is out of range"),
        (np.ones(11, dtype=bool), r"a boolean mask of shape \(11,\) for 12 frames; give one"),
        ([5, 3, 1, 3, 5, 5], "frame 3 is selected 2 times; select each frame once"),
        (1.5, "cannot select frames by float 1.5; give an integer, a slice"),
        ("frame_1", "cannot select frames by str 'frame_1'"),
        (
            np.array([0.0, 1.0]),
            r"cannot select frames by ndarray of float64 values of shape \(2,\)",
        ),
        (
            np.zeros((2, 2), dtype=int),
            r"cannot select frames by ndarray of int64 values of shape \(2, 2\)",
        ),
        ((0, 1), "frames are selected along their first axis only"),
    ],
)
def test_bad_keys_are_an_index_error_naming_the_fault(frames, key, message):
    with pytest.raises(IndexError, match=rf"ubiquitin_2k39_ca_12.pdb: {message}"):
        frames[key]
