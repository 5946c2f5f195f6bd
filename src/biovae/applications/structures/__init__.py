"""Conformational ensembles of protein structures: superposition, validity, a conformational VAE.

Needs the ``structure`` extra (MDAnalysis) only to read files.
"""

from biovae.applications.structures.geometry import align_frames, kabsch, nearest_rmsd, rmsd
from biovae.applications.structures.model import ConformationVAE, ca_only
from biovae.applications.structures.validity import Validity, assess, passes

__all__ = [
    "ConformationVAE",
    "Validity",
    "align_frames",
    "assess",
    "ca_only",
    "kabsch",
    "nearest_rmsd",
    "passes",
    "rmsd",
]
