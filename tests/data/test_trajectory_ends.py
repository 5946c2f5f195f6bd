"""Trajectories cut short inside a frame are a one-line error, not silently fewer frames."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from biovae.data.structure import read_structures
from biovae.errors import DataError

mda = pytest.importorskip("MDAnalysis", reason="needs the structure extra (MDAnalysis)")


@pytest.fixture(scope="module")
def trajectories(tmp_path_factory):
    """The 12 ubiquitin frames written as DCD, XTC and TRR (MDAnalysis' writers)."""
    topology = Path(__file__).parents[1] / "fixtures" / "ubiquitin_2k39_ca_12.pdb"
    folder = tmp_path_factory.mktemp("trajectories")
    universe = mda.Universe(str(topology))
    paths = {}
    for kind in ("dcd", "xtc", "trr"):
        paths[kind] = folder / f"whole.{kind}"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "no dimensions set": these frames have no box
            with mda.Writer(str(paths[kind]), universe.atoms.n_atoms) as writer:
                for _ in universe.trajectory:
                    writer.write(universe.atoms)
    return topology, paths


@pytest.mark.parametrize("kind", ["dcd", "xtc", "trr"])
def test_a_trajectory_cut_inside_a_frame_names_the_whole_frames(trajectories, tmp_path, kind):
    topology, paths = trajectories
    data = paths[kind].read_bytes()
    whole = read_structures(paths[kind], topology)
    assert len(whole) == 12
    for fraction in (0.35, 0.53, 0.71, 0.999):  # none falls between two frames
        cut = tmp_path / f"cut.{kind}"
        cut.write_bytes(data[: int(len(data) * fraction)])
        with pytest.raises(DataError) as info:
            read_structures(cut, topology)
        message = str(info.value)
        assert "\n" not in message and "cut short" in message, message
        n, ends = re.search(r"\((\d+) whole frames.*head -c (\d+) ", message).groups()
        prefix = tmp_path / f"prefix.{kind}"  # the fix the message gives
        prefix.write_bytes(data[: int(ends)])
        kept = read_structures(prefix, topology)
        assert len(kept) == int(n) < 12
        np.testing.assert_allclose(kept.coords, whole.coords[: int(n)], atol=1e-2)  # XTC: 1e-3 nm


def test_a_trajectory_cut_between_frames_is_a_shorter_trajectory(trajectories, tmp_path):
    topology, paths = trajectories
    data = paths["trr"].read_bytes()  # TRR frames without velocities have one size
    frame = len(data) // 12
    cut = tmp_path / "eight.trr"
    cut.write_bytes(data[: 8 * frame])
    assert len(read_structures(cut, topology)) == 8
