"""The 3D-structure report section renders its table and three plots from plain results."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib", reason="needs the report extra (matplotlib)")


def test_structure_section_has_table_and_plots():
    from biovae.reports.structures import structure_section

    keys = (
        "bonds_valid",
        "bonds_trans_valid",
        "bonds_cis_valid",
        "clash_free",
        "angle_w1_deg",
        "torsion_w1_deg",
        "mirror_images",
        "rg_mean",
        "nearest_rmsd_mean",
        "passing",
    )
    validity = {m: dict.fromkeys(keys, 0.5) for m in ("training", "mse", "geometry")}
    rng = np.random.default_rng(0)
    latent = {
        "z": rng.normal(size=(10, 2)),
        "frame": np.arange(10),
        "held_out": np.arange(10) % 5 == 0,
    }
    result = {
        "validity": validity,
        "bond_lengths": {m: rng.normal(3.8, 0.1, 50) for m in validity},
        "latent": {"mse": latent, "geometry": latent},
        "interpolation": {
            "mse": {"rmsd_to_end": [3.0, 2.0, 0.5]},
            "geometry": {"rmsd_to_end": [3.0, 1.0, 0.4]},
        },
    }
    section = structure_section("toy", result)
    assert [p.key for p in section.plots] == ["toy-bonds", "toy-latent", "toy-path"]
    assert all(p.png.startswith(b"\x89PNG") for p in section.plots)
    assert section.notes[0] == "metric | training | mse | geometry"
    assert "50.00%" in section.notes[1]
