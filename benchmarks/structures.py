"""3D structures (issue #7): naive MSE vs geometry-aware conformational VAE, side by side.

For adenylate kinase (DIMS closed→open trajectory, 98 frames × 214 Cα) and the ubiquitin NMR
ensemble (2K39, 116 models × 76 Cα): every 5th frame (0, 5, 10, ...) is held out; both models
are fitted on the rest with the same network, seed and epochs; then

* held-out reconstruction RMSD (decoded posterior mean vs the frame, after superposition),
* validity of N prior samples (decoder means): virtual bonds, clashes, angles, torsions,
  mirror images, Rg, novelty,
* a straight latent interpolation: AdK closed (adk_closed.pdb) → open (adk_open.pdb); ubiquitin
  between the two most different training models. The ends are the latent points that best
  reconstruct the two structures (posterior means refined by ``ConformationVAE.refine_latent``;
  the path between the plain posterior means is reported beside it). RMSD to the end structure
  itself must fall at every step and every structure must pass the checks.

Prints Markdown tables; writes PDB files, ``results.json`` and ``report.html`` to ``--out``.
Reads ``$BIOVAE_DATA_DIR`` (default ``../shared/data``); skips a data set that is absent.

    .venv/bin/python benchmarks/structures.py [--epochs N] [--samples N] [--out DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, markdown_table
from biovae.applications.structures.geometry import nearest_rmsd, pairwise_rmsd, rmsd
from biovae.applications.structures.validity import assess, passes, virtual_bonds
from biovae.data.structure import Structures, read_structures, write_pdb
from biovae.structure_estimator import STRUCTURE_DEFAULTS, ConformationVAE

REPO = Path(__file__).resolve().parents[1]
LOSSES = ("mse", "geometry")
DATASETS = {
    "adk": (
        "structure/adk_dims.dcd",
        "structure/adk.psf",
        "structure/adk_closed.pdb",
        "structure/adk_open.pdb",
    ),
    "ubiquitin": ("structure/pdb2k39_ca.pdb", None, None, None),
}


def data_dir() -> Path:
    return Path(os.environ.get("BIOVAE_DATA_DIR", REPO.parent / "shared" / "data"))


def endpoints(spec, train: Structures) -> tuple[Structures, Structures, str]:
    """Start and end of the interpolation: given files, else the two most distant frames."""
    if spec[2]:
        start = read_structures(data_dir() / spec[2], None, "ca")
        end = read_structures(data_dir() / spec[3], None, "ca")
        return start, end, f"{spec[2]} → {spec[3]}"
    c = torch.as_tensor(train.coords)
    d = pairwise_rmsd(c[:, None], c[None]).numpy()
    i, j = np.unravel_index(np.argmax(d), d.shape)
    pick = (train.with_coords(train.coords[[k]]) for k in (i, j))
    return *pick, f"training frames {i} → {j} (most distant, {d[i, j]:.2f} Å)"


def run_model(loss, cfg, train, test, start, end, n_samples, out: Path) -> dict:
    t0 = time.perf_counter()
    model = ConformationVAE(loss, cfg).fit(train)
    seconds = time.perf_counter() - t0
    train_al = model.align(train)
    recon = rmsd(model.reconstruct(test), model.align(test))
    samples = model.sample(n_samples, seed=0)
    t0 = time.perf_counter()
    path = model.interpolate(start, end, 12)
    path_seconds = time.perf_counter() - t0
    to_end = rmsd(path, model.align(end)[0])
    # the same path between the encoder's posterior means (no latent refinement), for comparison
    plain = model.interpolate(start, end, 12, refine_steps=0)
    plain_to_end = rmsd(plain, model.align(end)[0])
    write_pdb(out / f"{loss}_samples_first100.pdb", model.structures(samples[:100]))
    write_pdb(out / f"{loss}_interpolation.pdb", model.structures(path))
    return {
        "fit_seconds": seconds,
        "epochs": len(model.vae_.history_),
        "recon_rmsd_mean": float(recon.mean()),
        "recon_rmsd_max": float(recon.max()),
        "validity": assess(samples, train_al).to_dict(),
        "bond_lengths": virtual_bonds(samples).ravel(),
        "path": {
            "rmsd_to_end": to_end.tolist(),
            "monotone": bool(np.all(np.diff(to_end) < 0)),
            "passing": passes(path, training=train_al).tolist(),
            "path_nearest_rmsd": nearest_rmsd(path, train_al).tolist(),
            "seconds": path_seconds,
        },
        "path_posterior_means": {
            "rmsd_to_end": plain_to_end.tolist(),
            "monotone": bool(np.all(np.diff(plain_to_end) < 0)),
            "passing": passes(plain, training=train_al).tolist(),
        },
        "model": model,
        "train_aligned": train_al,
    }


def run_dataset(name: str, spec, cfg, n_samples: int, out: Path) -> dict:
    topology = data_dir() / spec[1] if spec[1] else None
    s = read_structures(data_dir() / spec[0], topology, "ca")
    held = np.arange(len(s)) % 5 == 0
    train, test = s.with_coords(s.coords[~held]), s.with_coords(s.coords[held])
    start, end, path_desc = endpoints(spec, train)
    (out / name).mkdir(parents=True, exist_ok=True)
    runs = {
        loss: run_model(loss, cfg, train, test, start, end, n_samples, out / name)
        for loss in LOSSES
    }
    train_al = runs["geometry"]["train_aligned"]
    return {
        "frames": len(s),
        "residues": s.n_atoms,
        "train": int((~held).sum()),
        "held_out": int(held.sum()),
        "path": path_desc,
        "runs": runs,
        "validity": {
            "training": assess(train_al, train_al).to_dict(),
            **{k: r["validity"] for k, r in runs.items()},
        },
        "bond_lengths": {
            "training": virtual_bonds(train_al).ravel(),
            **{k: r["bond_lengths"] for k, r in runs.items()},
        },
        "latent": {
            k: {"z": r["model"].encode(s), "frame": np.arange(len(s)), "held_out": held}
            for k, r in runs.items()
        },
        "interpolation": {k: r["path"] for k, r in runs.items()},
    }


#: Validity rows: label, key of the Validity numbers, format (training frames and both models).
VALIDITY_ROWS = (
    ("virtual bonds valid, trans or cis (%)", "bonds_valid", "{:.2%}"),
    ("virtual bonds 3.8 ± 0.2 Å (%)", "bonds_trans_valid", "{:.2%}"),
    ("virtual bonds 2.9 ± 0.2 Å, cis (%)", "bonds_cis_valid", "{:.3%}"),
    ("bond length mean (Å)", "bond_mean", "{:.3f}"),
    ("bond length sd (Å)", "bond_std", "{:.3f}"),
    ("clash-free structures (%)", "clash_free", "{:.1%}"),
    ("clashes per structure", "clashes_per_structure", "{:.3f}"),
    ("Cα angle W1 to training (°)", "angle_w1_deg", "{:.2f}"),
    ("angles within training range (%)", "angles_in_training_range", "{:.2%}"),
    ("Cα torsion W1 to training, circular (°)", "torsion_w1_deg", "{:.2f}"),
    ("radius of gyration mean (Å)", "rg_mean", "{:.2f}"),
    ("radius of gyration sd (Å)", "rg_std", "{:.2f}"),
    ("RMSD to nearest training frame, mean (Å)", "nearest_rmsd_mean", "{:.2f}"),
    ("mirror images (%)", "mirror_images", "{:.1%}"),
    ("structures passing (≥ 99 % bonds valid, no clash, not mirrored) (%)", "passing", "{:.1%}"),
)


def model_rows(runs: dict) -> list[list[str]]:
    """Rows that exist only for the models: fit time, reconstruction, interpolation."""

    def per(fn):
        return [fn(runs[k]) for k in LOSSES]

    return [
        ["fit time (s)", "", *per(lambda r: f"{r['fit_seconds']:.0f}")],
        [
            "held-out recon RMSD mean / max (Å)",
            "",
            *per(lambda r: f"{r['recon_rmsd_mean']:.2f} / {r['recon_rmsd_max']:.2f}"),
        ],
        [
            "interpolation: RMSD to end falls at every step",
            "",
            *per(lambda r: str(r["path"]["monotone"])),
        ],
        [
            "interpolation: RMSD to end, first → last (Å)",
            "",
            *per(
                lambda r: "{:.2f} → {:.2f}".format(*np.asarray(r["path"]["rmsd_to_end"])[[0, -1]])
            ),
        ],
        [
            "interpolation: structures passing (of 12)",
            "",
            *per(lambda r: str(sum(r["path"]["passing"]))),
        ],
        [
            "same path without latent refinement: RMSD falls at every step; first → last (Å)",
            "",
            *per(lambda r: _path_summary(r["path_posterior_means"])),
        ],
    ]


def _path_summary(path: dict) -> str:
    d = np.asarray(path["rmsd_to_end"])
    return f"{path['monotone']}; {d[0]:.2f} → {d[-1]:.2f}"


def tables(name: str, res: dict, n_samples: int) -> str:
    v = res["validity"]
    rows = [
        [label, *(fmt.format(v[k][key]) for k in ("training", *LOSSES))]
        for label, key, fmt in VALIDITY_ROWS
    ]
    head = (
        f"### {name}: {res['frames']} frames × {res['residues']} Cα; train {res['train']}, "
        f"held out {res['held_out']} (every 5th); {n_samples} prior samples; path "
        f"{res['path']}\n\n"
    )
    return head + markdown_table(
        ["", "training frames", "MSE baseline", "geometry"], model_rows(res["runs"]) + rows
    )


def write_report(results: dict, out: Path) -> Path:
    from biovae.data.writers import atomic_open
    from biovae.reports.html import render_page
    from biovae.reports.sections import training_section
    from biovae.reports.structures import structure_section

    first = next(iter(results.values()))
    est = first["runs"]["geometry"]["model"].vae_
    parts = [training_section(est), *(structure_section(n, r) for n, r in results.items())]
    path = out / "report.html"
    with atomic_open(path, "w") as fh:
        fh.write(render_page(est, parts, None, "biovae: conformational VAEs, MSE vs geometry"))
    return path


def jsonable(results: dict) -> dict:
    skip = {"model", "train_aligned", "bond_lengths"}
    out = {}
    for name, res in results.items():
        r = {k: v for k, v in res.items() if k not in ("runs", "latent", "bond_lengths")}
        r["runs"] = {
            m: {k: v for k, v in run.items() if k not in skip} for m, run in res["runs"].items()
        }
        out[name] = r
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=STRUCTURE_DEFAULTS.train.epochs)
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=str(REPO / "bench-output" / "structures"))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    train_cfg = dataclasses.replace(STRUCTURE_DEFAULTS.train, epochs=args.epochs)
    cfg = dataclasses.replace(STRUCTURE_DEFAULTS, train=train_cfg)
    out = Path(args.out)
    info = machine_info()
    print(json.dumps(info))
    print(f"config: {json.dumps(dataclasses.asdict(cfg))}")
    results = {}
    for name, spec in DATASETS.items():
        if not (data_dir() / spec[0]).exists():
            print(f"skipping {name}: {data_dir() / spec[0]} not found (set BIOVAE_DATA_DIR)")
            continue
        results[name] = run_dataset(name, spec, cfg, args.samples, out)
        print(tables(name, results[name], args.samples) + "\n", flush=True)
    if results:
        from _common import write_json_atomic

        write_json_atomic(out / "results.json", {"machine": info, **jsonable(results)})
        print(f"report: {write_report(results, out)}")


if __name__ == "__main__":
    main()
