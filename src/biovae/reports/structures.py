"""Report section of a conformational VAE comparison: validity table and plots.

Input is the plain results dictionary written by ``benchmarks/structures.py`` (per data set and
model: validity numbers, bond lengths, latent means and the interpolation path's RMSDs).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from biovae.reports import figures
from biovae.reports.content import Plot, Section

COLOURS = {
    "training": figures.MUTED,
    "frames": figures.MUTED,
    "mse": figures.VALIDATION,
    "reconstructions": figures.VALIDATION,
    "geometry": figures.TRAIN,
    "samples": figures.TRAIN,
}
ROWS = (
    ("bonds_valid", "Cα–Cα bonds valid (trans or cis)", "{:.2%}"),
    ("bonds_trans_valid", "bonds within 3.8 ± 0.2 Å", "{:.2%}"),
    ("bonds_cis_valid", "bonds within 2.9 ± 0.2 Å (cis)", "{:.2%}"),
    ("clash_free", "clash-free structures", "{:.1%}"),
    ("angle_w1_deg", "Cα angle W1 to training (°)", "{:.2f}"),
    ("torsion_w1_deg", "Cα torsion W1 to training, circular (°)", "{:.2f}"),
    ("mirror_images", "mirror images (closer to the training's mirror)", "{:.1%}"),
    ("rg_mean", "radius of gyration (Å)", "{:.2f}"),
    ("nearest_rmsd_mean", "RMSD to nearest training frame (Å)", "{:.2f}"),
    ("passing", "structures passing every check", "{:.1%}"),
)


def validity_rows(validity: Mapping[str, Mapping[str, float]]) -> list[str]:
    """Plain-text table rows, one per metric, models side by side."""
    models = list(validity)
    out = ["metric | " + " | ".join(models)]
    for key, label, fmt in ROWS:
        out.append(label + " | " + " | ".join(fmt.format(validity[m][key]) for m in models))
    return out


def structure_section(name: str, result: Mapping[str, Any]) -> Section:
    """Validity table (as notes) and plots for one data set."""
    plots = (
        Plot(
            f"{name}-bonds",
            figures.render(lambda f: bond_histogram(f, result["bond_lengths"]), (7.5, 3.2)),
            "Histogram of Cα–Cα virtual-bond lengths",
            "Virtual bonds of 1,000 prior samples "
            "per model and of the training frames; the band is 3.8 ± 0.2 Å.",
        ),
        Plot(
            f"{name}-latent",
            figures.render(lambda f: _latent(f, result), (7.5, 3.2)),
            "Latent means of the frames coloured by frame index",
            "Posterior means of all frames (held-out frames as crosses), coloured by frame index.",
        ),
        Plot(
            f"{name}-path",
            figures.render(lambda f: _path(f, result), (5.0, 3.2)),
            "RMSD to the end structure along the latent interpolation",
            "RMSD to the end structure along the straight latent path.",
            wide=False,
        ),
    )
    return Section(
        f"structures-{name}",
        f"3D structures: {name}",
        lead="MSE baseline vs geometry-aware (Cα-chain) likelihood; samples are decoder means.",
        plots=plots,
        notes=tuple(validity_rows(result["validity"])),
    )


def bond_histogram(fig, bond_lengths: Mapping[str, np.ndarray]) -> None:
    """Step histograms of virtual-bond lengths (Å) per named set, over the 3.8 ± 0.2 Å band."""
    ax = fig.add_subplot(1, 1, 1)
    ax.axvspan(3.6, 4.0, color=figures.SHADE, alpha=0.5, lw=0)
    bins = np.linspace(2.0, 5.0, 121)
    for key, values in bond_lengths.items():
        ax.hist(
            values,
            bins=bins,
            density=True,
            histtype="step",
            lw=1.6,
            color=COLOURS.get(key, figures.INK),
            label=key,
        )
    ax.set_xlabel("Cα–Cα distance (Å)")
    ax.set_ylabel("density")
    ax.legend()


def _latent(fig, result) -> None:
    for i, (model, lat) in enumerate(result["latent"].items()):
        ax = fig.add_subplot(1, len(result["latent"]), i + 1)
        z, frame, held = (np.asarray(lat[k]) for k in ("z", "frame", "held_out"))
        kw = {"cmap": "viridis", "vmin": frame.min(), "vmax": frame.max()}
        ax.scatter(z[~held, 0], z[~held, -1], c=frame[~held], s=14, **kw)
        ax.scatter(z[held, 0], z[held, -1], c=frame[held], s=30, marker="x", **kw)
        ax.set_title(model)
        ax.set_xlabel("z₁")
        ax.set_ylabel(f"z{z.shape[1]}")


def _path(fig, result) -> None:
    ax = fig.add_subplot(1, 1, 1)
    for model, path in result["interpolation"].items():
        ax.plot(path["rmsd_to_end"], marker="o", color=COLOURS.get(model), label=model)
    ax.set_xlabel("step along the path")
    ax.set_ylabel("RMSD to end (Å)")
    ax.legend()
