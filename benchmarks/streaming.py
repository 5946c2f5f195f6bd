"""Training from a matrix left on disk (``--stream``) against reading it whole: wall time, peak
memory and the fitted model, in fresh processes, interleaved.

    python benchmarks/streaming.py [--cells 200000] [--genes 2000] [--rounds 2] \\
        [--out bench-output/streaming]

Data: synthetic negative-binomial counts (``--cells`` × ``--genes``, about ``--density``
non-zero), written once as a CSR ``.h5ad`` under ``--out``. Each fit is a child process:
``read_dataset(path, stream=...)`` then the NB VAE (10 latent, hidden 128, batch 128, the
library's other defaults, ``--epochs``) on 2 threads. Memory: see :class:`MemoryProbe`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_average, machine_info, markdown_table


def make_data(path: Path, cells: int, genes: int, density: float) -> None:
    """NB counts: per-gene means from a gamma, per-cell size factors, dispersion 2; the gene
    means are scaled so that about ``density`` of the entries are non-zero."""
    import anndata

    rng = np.random.default_rng(0)
    rows = []
    gene_mean = rng.gamma(0.6, 1.0, genes) * -np.log(1 - density) / 0.6
    for start in range(0, cells, 20_000):
        n = min(20_000, cells - start)
        rows.append(sp.csr_matrix(nb_chunk(rng, n, gene_mean)))
    adata = anndata.AnnData(sp.vstack(rows, format="csr"))
    adata.obs_names = [f"c{i}" for i in range(cells)]
    adata.write_h5ad(path)


def nb_chunk(rng: np.random.Generator, n: int, gene_mean: np.ndarray) -> np.ndarray:
    """``n`` cells of float32 NB counts: per-cell size factors, dispersion 2."""
    size = rng.lognormal(0.0, 0.3, (n, 1))
    lam = rng.gamma(2.0, gene_mean * size / 2.0)
    return rng.poisson(lam).astype(np.float32)


class MemoryProbe:
    """Peak anonymous memory (``RssAnon``, sampled every 20 ms on a thread) and ``VmHWM`` of
    this process from /proc: what must fit in RAM, and the peak resident set including mapped
    file pages (which the kernel can drop). ``ru_maxrss`` is not used: Linux carries it over
    from the parent across ``exec``."""

    def __init__(self) -> None:
        self.peak_anon = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @staticmethod
    def _status(key: str) -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])  # kB
        return 0

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_anon = max(self.peak_anon, self._status("RssAnon"))
            self._stop.wait(0.02)

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        self.peak_anon = max(self.peak_anon, self._status("RssAnon"))
        return {"peak_anon_mib": self.peak_anon / 1024, "vm_hwm_mib": self._status("VmHWM") / 1024}


def child(path: str, stream: bool, epochs: int) -> None:
    import torch

    probe = MemoryProbe()

    from biovae import VAE
    from biovae.config import FitConfig, ModelConfig, NetworkConfig, TrainConfig
    from biovae.data.readers import read_dataset

    torch.set_num_threads(2)
    t0 = time.perf_counter()
    ds = read_dataset(path, stream=stream)
    t_read = time.perf_counter() - t0
    cfg = FitConfig(
        model=ModelConfig(n_latent=10, network=NetworkConfig(hidden=(128,))),
        train=TrainConfig(epochs=epochs, batch_size=128, seed=0),
    )
    t1 = time.perf_counter()
    est = VAE(likelihood="nb", config=cfg).fit(ds)
    t_fit = time.perf_counter() - t1
    last = est.history_[-1]
    out = {
        "stream": stream,
        "read_s": t_read,
        "fit_s": t_fit,
        "total_s": time.perf_counter() - t0,
        **probe.stop(),
        "elbo": last["elbo"],
        "val_elbo": last["val_elbo"],
        "load": load_average(),
    }
    print(json.dumps(out))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--cells", type=int, default=200_000)
    p.add_argument("--genes", type=int, default=2_000)
    p.add_argument("--density", type=float, default=0.1)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--out", default="bench-output/streaming")
    p.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args.child[0], args.child[1] == "stream", int(args.child[2]))
        return
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"nb_{args.cells}x{args.genes}.h5ad"
    if not path.exists():
        make_data(path, args.cells, args.genes, args.density)
    runs = []
    for r in range(args.rounds):
        for mode in ("memory", "stream") if r % 2 == 0 else ("stream", "memory"):
            cmd = [sys.executable, __file__, "--child", str(path), mode, str(args.epochs)]
            res = subprocess.run(cmd, capture_output=True, text=True, check=True)
            runs.append({"round": r, **json.loads(res.stdout.strip().splitlines()[-1])})
            print(runs[-1], file=sys.stderr)
    res = {"machine": machine_info(), "args": vars(args), "file_mib": path.stat().st_size / 2**20}
    res["runs"] = runs
    (out / "streaming.json").write_text(json.dumps(res, indent=2, default=str))
    rows = [
        [
            r["round"],
            "stream" if r["stream"] else "memory",
            f"{r['read_s']:.1f}",
            f"{r['fit_s']:.1f}",
            f"{r['peak_anon_mib']:.0f}",
            f"{r['vm_hwm_mib']:.0f}",
            f"{r['elbo']:.4f}",
            f"{r['val_elbo']:.4f}",
        ]
        for r in runs
    ]
    head = ["round", "matrix", "read s", "fit s", "peak anon MiB", "VmHWM MiB", "ELBO", "val ELBO"]
    print(f"file {res['file_mib']:.0f} MiB")
    print(markdown_table(head, rows))


if __name__ == "__main__":
    main()
