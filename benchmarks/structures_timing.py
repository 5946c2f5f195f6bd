"""Time of the structure commands' slow parts: this tree against a baseline tree, in one run.

Fits one small geometry model of AdK (``--epochs``, default 5) with this tree's code and saves it;
then, in one child process per code tree (this ``src`` and ``--baseline SRC``, e.g. a
``git worktree`` of the previous commit), on the same model folder and with the same threads:

* ``interpolate``: ``ConformationVAE.interpolate(adk_closed, adk_open, 12, refine_steps)``
  (``--refine-steps``, default 100 as ``biovae structure interpolate``);
* ``report validity``: decode ``-n`` prior samples (default 1000, as ``structure report``) and
  the frames' reconstructions, and assess frames, reconstructions and samples against the
  frames (what the report's validity section measures).

Prints seconds per part for each tree, the ratio baseline / this tree, and the largest
difference between the two trees' outputs (path coordinates in Å, validity numbers).
Reads ``$BIOVAE_DATA_DIR`` (default ``../shared/data``).

    .venv/bin/python benchmarks/structures_timing.py --baseline /tmp/old/src [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    return Path(os.environ.get("BIOVAE_DATA_DIR", REPO.parent / "shared" / "data"))


def read(name: str, topology: str | None = None):
    from biovae.data.structure import read_structures

    top = data_dir() / "structure" / topology if topology else None
    return read_structures(data_dir() / "structure" / name, top, "ca")


def child(model_dir: str, out: Path, refine_steps: int, n: int) -> None:
    """Time both parts with the biovae on ``PYTHONPATH``; write outputs and seconds to ``out``."""
    from biovae.applications.structures.validity import assess, ca_breaks
    from biovae.structure_estimator import ConformationVAE

    model = ConformationVAE.load(model_dir)
    frames = read("adk_dims.dcd", "adk.psf")
    start, end = read("adk_closed.pdb"), read("adk_open.pdb")
    t0 = time.perf_counter()
    path = model.interpolate(start, end, 12, refine_steps=refine_steps)
    t1 = time.perf_counter()
    aligned = model.align(frames)
    sets = {"frames": aligned, "recon": model.reconstruct(frames), "samples": model.sample(n)}
    validity = {k: assess(v, aligned, ca_breaks(frames)).to_dict() for k, v in sets.items()}
    t2 = time.perf_counter()
    np.save(out / "path.npy", path)
    seconds = {"interpolate": t1 - t0, "report validity": t2 - t1}
    (out / "result.json").write_text(json.dumps({"seconds": seconds, "validity": validity}))


def run_child(src: Path, args, model_dir: str, out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": str(args.threads)}
    cmd = [sys.executable, __file__, "--child", str(out), "--model", model_dir]
    cmd += ["--refine-steps", str(args.refine_steps), "-n", str(args.n)]
    subprocess.run(cmd, env=env, check=True)
    result = json.loads((out / "result.json").read_text())
    return {**result, "path": np.load(out / "path.npy")}


def fit_model(epochs: int, folder: Path) -> str:
    import dataclasses

    from biovae.structure_estimator import STRUCTURE_DEFAULTS, ConformationVAE

    train = dataclasses.replace(STRUCTURE_DEFAULTS.train, epochs=epochs, seed=0)
    cfg = dataclasses.replace(STRUCTURE_DEFAULTS, train=train)
    return str(ConformationVAE("geometry", cfg).fit(read("adk_dims.dcd", "adk.psf")).save(folder))


def largest_difference(a: dict, b: dict) -> float:
    return max(
        abs(a[s][k] - b[s][k]) for s in a for k in a[s] if np.isfinite([a[s][k], b[s][k]]).all()
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--baseline", required=False, metavar="SRC", help="src folder of the baseline")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--refine-steps", type=int, default=100)
    p.add_argument("-n", type=int, default=1000)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--model", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return child(args.model, Path(args.child), args.refine_steps, args.n)
    if not args.baseline:
        p.error("--baseline SRC is required (the src folder of the code to compare against)")
    sys.path.insert(0, str(REPO / "src"))
    import torch

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = fit_model(args.epochs, Path(tmp) / "model")
        trees = {"baseline": Path(args.baseline), "this tree": REPO / "src"}
        res = {
            k: run_child(src, args, model_dir, Path(tmp) / k.replace(" ", "_"))
            for k, src in trees.items()
        }
    old, new = res["baseline"], res["this tree"]
    print(f"threads {args.threads}; refine steps {args.refine_steps}; {args.n} prior samples\n")
    print("| part | baseline (s) | this tree (s) | baseline / this tree |\n|---|---|---|---|")
    for part, s_old in old["seconds"].items():
        s_new = new["seconds"][part]
        print(f"| {part} | {s_old:.1f} | {s_new:.1f} | {s_old / s_new:.2f}× |")
    path_diff = float(np.abs(old["path"] - new["path"]).max())
    print(
        f"\nlargest difference: path {path_diff:.2e} Å; validity numbers "
        f"{largest_difference(old['validity'], new['validity']):.2e}"
    )


if __name__ == "__main__":
    main()
