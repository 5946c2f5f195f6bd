"""The scvi-tools side of the single-cell benchmarks: its separate environment, the worker
that trains scVI / scANVI (``scvi_worker.py``, driven through files) and the .h5ad it reads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from _common import load_average
from biovae.data.dataset import Dataset

WORKER = Path(__file__).resolve().parent / "scvi_worker.py"


def scvi_python(env: Path) -> Path:
    """The scvi-tools environment's python, created on first use (torch pinned first)."""
    python = env / "bin" / "python"
    if python.exists() and _run([str(python), "-c", "import scvi"], check=False) == 0:
        return python
    print(f"creating the scvi-tools environment in {env} (a few minutes)", file=sys.stderr)
    _run([sys.executable, "-m", "venv", str(env)])
    _run([str(python), "-m", "pip", "install", "-q", "torch==2.13.0"])
    _run([str(python), "-m", "pip", "install", "-q", "scvi-tools==1.4.2"])
    return python


def add_simulation_args(p, cells: int, genes: int, epochs: int) -> None:
    """The options of a side-by-side run on simulated counts: size, epochs, seeds, and where
    (or whether) scvi-tools runs."""
    p.add_argument("--cells", type=int, default=cells)
    p.add_argument("--genes", type=int, default=genes)
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--no-scvi", action="store_true")
    p.add_argument("--scvi-env", default="bench-output/scvi-env")


def output_and_scvi(out: str | Path, args) -> tuple[Path, Path | None]:
    """The output folder (created) and the scvi-tools python (None with ``--no-scvi``)."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    return folder, None if args.no_scvi else scvi_python(Path(args.scvi_env))


def _run(cmd: list[str], check: bool = True) -> int:
    rc = subprocess.run(cmd, capture_output=True).returncode
    if check and rc:
        raise RuntimeError(f"command failed ({rc}): {' '.join(cmd)}")
    return rc


def write_h5ad(ds: Dataset, path: Path, obs_keys: tuple[str, ...]) -> Path:
    import anndata
    import pandas as pd

    obs = pd.DataFrame({k: ds.obs[k].astype(str) for k in obs_keys}, index=list(ds.ids))
    x = sp.csr_matrix(ds.x, dtype=np.float32)
    anndata.AnnData(x, obs=obs, var=pd.DataFrame(index=list(ds.features))).write_h5ad(path)
    return path


def run_scvi(python: Path, settings: dict, workdir: Path) -> dict:
    """One scVI fit in the worker; returns its JSON (train_seconds measured inside)."""
    spath = workdir / "settings.json"
    spath.write_text(json.dumps(settings))
    out = workdir / "scvi_out.json"
    proc = subprocess.run(
        [str(python), str(WORKER), str(spath), str(out)], capture_output=True, text=True
    )
    if proc.returncode:
        raise RuntimeError(f"scVI worker failed:\n{proc.stderr[-3000:]}")
    result = json.loads(out.read_text())
    print(
        f"  scVI train {result['train_seconds']:.1f} s (load {load_average()})",
        file=sys.stderr,
        flush=True,
    )
    return result
