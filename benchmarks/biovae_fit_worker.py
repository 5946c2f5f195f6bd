"""Time one biovae fit in a fresh process, as ``scvi_worker.py`` does for scVI: the training
wall time a command-line user sees, including any one-time kernel compiling of the process, with
the allocator settings the ``biovae`` command applies at start (``tune_allocator``).

    python benchmarks/biovae_fit_worker.py CONFIG.json DATA.h5ad OUT.json THREADS

CONFIG.json is a :class:`biovae.config.FitConfig` as a dict; OUT.json gets ``fit_seconds``
(``VAE.fit`` only: reading the file is not timed, as scVI's ``setup_anndata`` is not).
:func:`run_biovae_fresh` is the benchmarks' side: it runs this file and reads the result.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path


def run_biovae_fresh(cfg_dict: dict, data: Path, workdir: Path, threads: int) -> float:
    """One biovae fit in a fresh process (``biovae_fit_worker.py``), the way scVI is timed:
    seconds of ``VAE.fit``, including the process's one-time kernel compiling if any."""
    cpath, out = workdir / "biovae_config.json", workdir / "biovae_out.json"
    cpath.write_text(json.dumps(cfg_dict))
    cmd = [sys.executable, __file__, str(cpath), str(data), str(out), str(threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"biovae worker failed:\n{proc.stderr[-3000:]}")
    seconds = json.loads(out.read_text())["fit_seconds"]
    from _common import load_average  # the benchmarks' helpers (this folder is on sys.path)

    print(f"  biovae fit (fresh process) {seconds:.1f} s (load {load_average()})", file=sys.stderr)
    return seconds


def main(cfg_path: str, data_path: str, out_path: str, threads: str) -> None:
    import torch

    from biovae.config import FitConfig, from_dict
    from biovae.data.readers import read_dataset
    from biovae.estimator import VAE
    from biovae.training import tune_allocator

    tune_allocator()  # as the biovae command does at start
    torch.set_num_threads(int(threads))
    with open(cfg_path) as fh:
        cfg = from_dict(FitConfig, json.load(fh))
    ds = read_dataset(data_path)
    t0 = time.perf_counter()
    VAE(config=cfg, progress=False).fit(ds)
    seconds = time.perf_counter() - t0
    with open(out_path, "w") as fh:
        json.dump({"fit_seconds": seconds}, fh)


if __name__ == "__main__":
    main(*sys.argv[1:5])
