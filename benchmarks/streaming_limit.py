"""A matrix larger than the memory the process may use: ``biovae fit --stream`` under a memory
limit below the file's size, from a cold page cache, beside the same command reading it whole.

    python benchmarks/streaming_limit.py [--cells 400000] [--genes 2000] [--limit-mib 1024] \\
        [--out bench-output/streaming-limit]

Data: NB counts (the generator of ``streaming.py``, ≈ 10 % non-zero) written in chunks as a
dense float32 ``.npy`` through a memory map: 3.2 GB at the defaults. Each fit is the command a
user runs, ``biovae fit DATA.npy --likelihood nb --latent 10 --hidden 128 --epochs 1 --seed 0
--out MODEL [--stream]``, in a child process placed in a cgroup-v1 memory group whose limit
(``memory.limit_in_bytes``, page cache included; this host has no swap) is ``--limit-mib``. The
page cache is dropped before each fit, so the streamed fit reads the file from disk. Reported:
exit status, wall seconds, the group's peak usage (``memory.max_usage_in_bytes``) and failcnt,
and the final training and validation ELBO from the saved model's metadata. Needs root and the
cgroup-v1 memory controller; says why and stops otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_average, machine_info
from streaming import nb_chunk

CGROUP = Path("/sys/fs/cgroup/memory")
BIOVAE = Path(sys.executable).with_name("biovae")


def make_npy(path: Path, cells: int, genes: int, density: float) -> None:
    """Dense float32 counts, written 20,000 rows at a time (never whole in memory)."""
    rng = np.random.default_rng(0)
    gene_mean = rng.gamma(0.6, 1.0, genes) * -np.log(1 - density) / 0.6
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(cells, genes))
    for start in range(0, cells, 20_000):
        n = min(20_000, cells - start)
        out[start : start + n] = nb_chunk(rng, n, gene_mean)
    out.flush()
    del out


def limited_group(limit_mib: int) -> Path:
    group = CGROUP / f"biovae-bench-{os.getpid()}"
    group.mkdir()
    (group / "memory.limit_in_bytes").write_text(str(limit_mib * 2**20))
    return group


def fit(data: Path, model: Path, stream: bool, group: Path) -> dict:
    """One ``biovae fit`` in the memory group, from a cold page cache."""
    subprocess.run(["sync"], check=True)
    Path("/proc/sys/vm/drop_caches").write_text("1")
    (group / "memory.max_usage_in_bytes").write_text("0")  # reset the peak
    (group / "memory.failcnt").write_text("0")
    cmd = [str(BIOVAE), "fit", str(data), "--likelihood", "nb", "--latent", "10"]
    cmd += ["--hidden", "128", "--epochs", "1", "--seed", "0", "--out", str(model), "--quiet"]
    cmd += ["--stream"] if stream else []

    def enter() -> None:  # in the child, before exec: join the memory group
        (group / "cgroup.procs").write_text(str(os.getpid()))

    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, preexec_fn=enter)
    row = {
        "stream": stream,
        "returncode": proc.returncode,
        "seconds": time.perf_counter() - t0,
        "peak_mib": int((group / "memory.max_usage_in_bytes").read_text()) / 2**20,
        "failcnt": int((group / "memory.failcnt").read_text()),
        "stderr_tail": proc.stderr.strip().splitlines()[-1:] if proc.stderr else [],
        "load": load_average(),
    }
    meta = model / "metadata.json"
    if proc.returncode == 0 and meta.is_file():
        last = json.loads(meta.read_text())["history"][-1]
        row.update(elbo=last["elbo"], val_elbo=last["val_elbo"])
    print(json.dumps(row), file=sys.stderr, flush=True)
    return row


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--cells", type=int, default=400_000)
    p.add_argument("--genes", type=int, default=2_000)
    p.add_argument("--density", type=float, default=0.1)
    p.add_argument("--limit-mib", type=int, default=1024)
    p.add_argument("--out", default="bench-output/streaming-limit")
    args = p.parse_args()
    if os.geteuid() != 0 or not (CGROUP / "memory.limit_in_bytes").is_file():
        print("needs root and the cgroup-v1 memory controller at /sys/fs/cgroup/memory")
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = out / f"nb_{args.cells}x{args.genes}.npy"
    if not data.exists():
        make_npy(data, args.cells, args.genes, args.density)
    group = limited_group(args.limit_mib)
    try:
        runs = [fit(data, out / f"model-{m}", m == "stream", group) for m in ("stream", "whole")]
    finally:
        group.rmdir()
    res = {"machine": machine_info(), "args": vars(args), "file_mib": data.stat().st_size / 2**20}
    res["runs"] = runs
    (out / "streaming_limit.json").write_text(json.dumps(res, indent=2, default=str))
    print(json.dumps(res, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
