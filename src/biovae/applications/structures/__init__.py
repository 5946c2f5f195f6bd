"""Conformational ensembles of protein structures: superposition and validity.

The conformational VAE itself is :class:`biovae.structure_estimator.ConformationVAE`.

Needs the ``structure`` extra (MDAnalysis) only to read files.
"""

from biovae.applications.structures.geometry import (
    align_frames,
    ca_only,
    kabsch,
    nearest_rmsd,
    rmsd,
)
from biovae.applications.structures.validity import (
    Validity,
    assess,
    mirrored,
    passes,
    virtual_torsions,
)

__all__ = [
    "Validity",
    "align_frames",
    "assess",
    "ca_only",
    "kabsch",
    "mirrored",
    "nearest_rmsd",
    "passes",
    "rmsd",
    "virtual_torsions",
]
