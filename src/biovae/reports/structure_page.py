"""The report of a conformational VAE (``biovae structure report``, ``structure fit --report``).

One self-contained page: training curves, latent usage, the map of the frames coloured by
frame index, how closely the frames are reconstructed (RMSD after superposition), the chemical
validity of prior samples beside the frames themselves (virtual bonds, clashes, angles, size,
distance to the nearest frame) and the model card. Samples and reconstructions are decoder
means, as everywhere in :mod:`biovae.structure_estimator`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from biovae.applications.structures.geometry import ca_only, rmsd
from biovae.applications.structures.validity import assess, ca_breaks, virtual_bonds
from biovae.errors import DataError
from biovae.latent_usage import STRUCTURE_REMEDIES
from biovae.model_card import structure_card
from biovae.reports import figures
from biovae.reports.content import Highlight, Plot, Section, Table
from biovae.reports.html import sections_page, write_page
from biovae.reports.model_card import model_card_section
from biovae.reports.sections import map_section, training_section, usage_section
from biovae.reports.structures import ROWS, bond_histogram

#: Prior samples whose validity the report measures (as the structure benchmark).
N_SAMPLES = 1000

LOSS_TEXT = {
    "geometry": "Cα-chain (geometry-aware) likelihood",
    "mse": "Gaussian on aligned coordinates (MSE baseline)",
}


@dataclass(frozen=True)
class _Views:
    """The coordinates the page compares, Cα only, in the model's reference frame."""

    frames: np.ndarray  #: the structures given, superposed
    reconstructions: np.ndarray  #: decoder means at the frames' posterior means
    samples: np.ndarray  #: decoder means at prior draws
    breaks: tuple[int, ...]  #: Cα pairs that are not bonded (chain changes, gaps)


def write_structure_report(
    model: Any,
    structures: Any,
    path: str | Path,
    n_samples: int = N_SAMPLES,
    seed: int = 0,
    title: str | None = None,
) -> Path:
    """Write the HTML report of a fitted ``ConformationVAE`` on ``structures`` to ``path``
    (atomically); ``n_samples`` prior draws (fixed by ``seed``) are assessed."""
    return write_page(path, structure_report_page(model, structures, n_samples, seed, title))


def structure_report_page(
    model: Any,
    structures: Any,
    n_samples: int = N_SAMPLES,
    seed: int = 0,
    title: str | None = None,
) -> str:
    """The HTML text of :func:`write_structure_report`, drawn without writing anything."""
    est, records = model.vae_, model.records(structures)
    if len(records) < 2:  # activity, the map and the validity table compare frames
        raise DataError(
            f"{structures.source}: {len(records)} frame; the report maps and compares frames: "
            "give at least 2 (e.g. the training trajectory)"
        )
    z = est.transform(records)
    frames = np.asarray(records.x, dtype=np.float32).reshape(len(records), -1, 3)
    recon, samples = model.decode(z), model.sample(n_samples, seed)
    atoms = model.structures(frames)
    views = _Views(ca_only(atoms), ca_only(atoms, recon), ca_only(atoms, samples), ca_breaks(atoms))
    parts = [
        training_section(est),
        usage_section(est, records, z, STRUCTURE_REMEDIES),
        map_section(est, records, z, ("frame",)),
        _reconstruction_section(frames, recon, records.ids),
        _validity_section(views, Path(structures.source).name),
        model_card_section(est, **structure_card(model.loss, model.selection() == "ca")),
    ]
    tagline = (
        f"Conformational VAE · {LOSS_TEXT.get(model.loss, model.loss)} · "
        f"{est.config_.model.n_latent}-D latent space · {frames.shape[1]} atoms"
    )
    title = title or f"biovae structure report: {Path(structures.source).name}"
    return sections_page(title, tagline, parts)


def _reconstruction_section(frames: np.ndarray, recon: np.ndarray, ids: Sequence[str]) -> Section:
    """RMSD (after superposition, all modelled atoms) of each frame's reconstruction; the
    worst frame is named by its index and id (``ids``: a folder's frames by their files)."""
    per_frame = rmsd(recon, frames)
    median = float(np.median(per_frame))
    plot = Plot(
        "structure-reconstruction",
        figures.render(lambda f: _rmsd_by_frame(f, per_frame), (7.5, 3.0)),
        "Reconstruction RMSD of each frame",
        "RMSD (Å, after superposition) between each frame and the decoder mean at its "
        "posterior mean, in frame order.",
    )
    worst = int(per_frame.argmax())
    return Section(
        "structure-reconstruction",
        "Reconstructions",
        "How closely the map's point for each frame decodes back to that frame. Frames far "
        "worse than their neighbours are conformations the map has not learned.",
        f"Median RMSD {median:.2f} Å; worst frame {worst} ({ids[worst]}, "
        f"{per_frame[worst]:.2f} Å).",
        plots=(plot,),
        highlights=(Highlight(f"{median:.2f} Å", "median reconstruction RMSD"),),
    )


def _rmsd_by_frame(fig, per_frame: np.ndarray) -> None:
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(np.arange(len(per_frame)), per_frame, marker="o", ms=3, color=figures.TRAIN)
    ax.set_xlabel("frame")
    ax.set_ylabel("RMSD (Å)")
    ax.set_ylim(bottom=0)


def _validity_section(views: _Views, source: str) -> Section:
    """Validity table and virtual-bond histogram: frames, reconstructions, samples."""
    sets = {
        "frames": views.frames,
        "reconstructions": views.reconstructions,
        "samples": views.samples,
    }
    validity = {k: assess(v, views.frames, views.breaks).to_dict() for k, v in sets.items()}
    bonds = {k: virtual_bonds(v, views.breaks).ravel() for k, v in sets.items()}
    table = Table(
        ("metric", *sets),
        tuple((label, *(fmt.format(validity[k][key]) for k in sets)) for key, label, fmt in ROWS),
        "Angles, torsions, handedness (mirror images), radius of gyration and nearest-frame "
        "RMSD are measured against the frames (for the frames themselves the nearest frame is "
        "the frame: 0 Å).",
    )
    plot = Plot(
        "structure-bonds",
        figures.render(lambda f: bond_histogram(f, bonds), (7.5, 3.2)),
        "Histogram of Cα–Cα virtual-bond lengths",
        "Virtual bonds of the frames, their reconstructions and the prior samples; the band "
        "is 3.8 ± 0.2 Å.",
    )
    n, passing = len(views.samples), validity["samples"]["passing"]
    verdict = (
        f"{passing:.0%} of {n:,} prior samples pass every check (≥ 99 % of virtual bonds "
        f"trans- or cis-valid, no clash, not a mirror image); the frames of {source}: "
        f"{validity['frames']['passing']:.0%}."
    )
    return Section(
        "structure-validity",
        "Validity of samples",
        "Are structures decoded from the prior chemically plausible Cα traces, and are they "
        "new conformations or copies of frames? Each column is set against the frames.",
        verdict,
        plots=(plot,),
        tables=(table,),
        highlights=(Highlight(f"{passing:.0%}", "prior samples passing", passing >= 0.9),),
    )
