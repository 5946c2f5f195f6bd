"""Time one biovae fit in a fresh process, as ``scvi_worker.py`` does for scVI: the training
wall time a command-line user sees, including any one-time kernel compiling of the process, with
the allocator settings the ``biovae`` command applies at start (``tune_allocator``).

    python benchmarks/biovae_fit_worker.py CONFIG.json DATA.h5ad OUT.json THREADS

CONFIG.json is a :class:`biovae.config.FitConfig` as a dict; OUT.json gets ``fit_seconds``
(``VAE.fit`` only: reading the file is not timed, as scVI's ``setup_anndata`` is not).
"""

from __future__ import annotations

import json
import sys
import time


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
