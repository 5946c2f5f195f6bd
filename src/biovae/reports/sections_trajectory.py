"""Report section and page for a trajectory: latent maps coloured by pseudotime and by stage."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from biovae.applications.trajectory import Trajectory
from biovae.reports import plots
from biovae.reports.analysis import is_categorical, project_2d
from biovae.reports.content import Highlight, Plot, Section, number


def stage_spearman(pseudotime: np.ndarray, stage: np.ndarray) -> float:
    """Spearman correlation of pseudotime and a numeric stage over records with both."""
    t = np.asarray(pseudotime, dtype=np.float64)
    s = np.asarray(stage, dtype=np.float64)
    ok = np.isfinite(t) & np.isfinite(s)
    if ok.sum() < 3:
        return float("nan")
    return float(spearmanr(t[ok], s[ok]).statistic)


def trajectory_section(
    z_mean: np.ndarray,
    traj: Trajectory,
    stage: np.ndarray | None = None,
    stage_name: str = "stage",
    title: str = "Trajectory",
    id_: str = "trajectory",
    ids: Sequence[str] | None = None,
    points: str = "posterior means",
) -> Section:
    """Latent maps coloured by diffusion pseudotime and (when given) by the known stage.

    ``ids`` name the records, so that the caption names the root by its id, not its row;
    ``points`` says what ``z_mean`` holds (an autoencoder's are codes f(x)).
    """
    proj = project_2d(z_mean)
    root = f"record {ids[traj.root]}" if ids is not None else f"record in row {traj.root + 1}"
    maps = [
        Plot(
            "trajectory-pseudotime",
            plots.latent_map(proj, traj.pseudotime, "diffusion pseudotime"),
            "Latent map coloured by diffusion pseudotime",
            f"Pseudotime 0 at the root ({root}), 1 at the farthest record; grey "
            "records are not connected to the root in the neighbour graph.",
            wide=False,
        )
    ]
    highlights: tuple[Highlight, ...] = ()
    if stage is not None:
        maps.append(
            Plot(
                "trajectory-stage",
                plots.latent_map(proj, stage, stage_name),
                f"Latent map coloured by {stage_name}",
                f"The known {stage_name} of each record, for comparison.",
                wide=False,
            )
        )
        if not is_categorical(stage):
            rho = stage_spearman(traj.pseudotime, stage)
            highlights = (Highlight(number(rho, ".3f"), f"Spearman ρ(pseudotime, {stage_name})"),)
    lead = (
        f"Diffusion pseudotime (Haghverdi et al. 2016) along a {proj.xy.shape[0]}-record "
        f"neighbour graph of the {points}: the distance from the root summed over random "
        "walks of every length. It orders records along the main paths of the latent map; a "
        "known time course should increase along it."
    )
    notes = (
        "One pseudotime orders records within a path; where the map branches, the branches' "
        "values are not on one scale (a branch's tip can end well below another's), so compare "
        "records across branches only by their order from the branch point, and look at the "
        "map for branches before reading one number as progress.",
        "On a loop (a cell cycle) pseudotime is the distance from the root the shorter way "
        "round: it rises to the opposite side of the loop and falls back towards the root, so "
        "it is no phase; records on either side at the same distance get the same value.",
    )
    return Section(id_, title, lead, plots=tuple(maps), notes=notes, highlights=highlights)


def write_trajectory_report(
    path: str | Path, parts: list[Section], title: str, files: tuple[tuple[str, str], ...] = ()
) -> Path:
    """A self-contained HTML page of ``parts`` (e.g. trajectory sections), written atomically;
    ``files``: (what, full path) rows of its "Inputs" card."""
    from biovae.reports.html import write_sections_page

    return write_sections_page(path, title, "Trajectories on the latent map", parts, files)
