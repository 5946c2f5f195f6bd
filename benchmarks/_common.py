"""Helpers shared by the benchmarks: machine description, robust timing, atomic output, and
the FLOP accounting of linear layers with the matching torch matmul reference.

Benchmarks compare peers side by side in one run on one machine and report ratios; the helpers
here describe the machine, time callables and count work, and hold no benchmark's own logic.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo (or ``platform.processor()`` elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> tuple[float, float, float] | None:
    """1, 5 and 15 minute load averages; a load above the core count means shared cores."""
    try:
        return os.getloadavg()
    except OSError:  # pragma: no cover - not available on every platform
        return None


def machine_info() -> dict[str, Any]:
    """What a reader needs to judge a number: date, cores, CPU, torch build and threads."""
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        "nproc": os.cpu_count(),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "blas": "mkl" if torch.backends.mkl.is_available() else "other",
        "load_average_start": load_average(),
    }


def seconds_per_call(
    fn: Callable[[], object], min_seconds: float = 0.05, repeats: int = 3
) -> float:
    """Best (smallest) mean seconds per call of ``fn`` over ``repeats`` timed bursts.

    Each burst runs ``fn`` enough times to last about ``min_seconds``. The minimum over bursts
    is the least disturbed by other processes on a shared machine (as ``timeit`` advises).
    """
    fn()  # warm-up: allocator, kernel selection, thread pool start
    t0 = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t0, 1e-6)
    calls = max(1, int(min_seconds / once))
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - t0) / calls)
    return best


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


class CpuShare:
    """Share of the machine's CPU time used by *other* processes while a block runs.

    Read from /proc/stat (all CPUs) and /proc/self/stat (this process); ``None`` where /proc
    is missing. A share well above zero means the numbers were taken on a shared machine.
    """

    def __enter__(self) -> CpuShare:
        self._start = _cpu_jiffies()
        self.other: float | None = None
        return self

    def __exit__(self, *exc: object) -> None:
        end = _cpu_jiffies()
        if self._start is None or end is None:
            return
        busy, total, mine = (e - s for e, s in zip(end, self._start))
        self.other = max(0.0, (busy - mine) / total) if total > 0 else None


def _cpu_jiffies() -> tuple[int, int, int] | None:
    """(busy jiffies of all CPUs, all jiffies of all CPUs, jiffies used by this process)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        own = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, ValueError, IndexError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already inside user time
    return total - idle, total, int(own[11]) + int(own[12])  # utime + stime


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write ``obj`` as JSON via a temporary file and a rename, so no half-written file remains."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(obj, fh, indent=2)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table (numbers are formatted by the caller)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def method_table(results: Sequence[dict], columns: Sequence[tuple[str, str, str]]) -> str:
    """One row per seed and method of ``results`` (each ``{"seed", "methods": {name: m}}``):
    method, seed, then ``format(m[key], spec)`` under ``header`` for each column."""
    headers = ("method", "seed", *(header for header, _, _ in columns))
    rows = [
        (name, r["seed"], *(format(m[key], spec) for _, key, spec in columns))
        for r in results
        for name, m in r["methods"].items()
    ]
    return markdown_table(headers, rows)


def run_seeds(
    seeds: str, one_seed: Callable[[int, Path], dict], markdown: Callable[[list[dict]], str]
) -> list[dict]:
    """``one_seed(seed, workdir)`` for each seed of ``"0,1,..."``, sharing one temporary work
    folder; each seed's table is printed to stderr as soon as it ends."""
    results: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in (int(s) for s in seeds.split(",")):
            results.append(one_seed(seed, Path(tmp)))
            print(markdown(results[-1:]), file=sys.stderr, flush=True)
    return results


# -- matmul FLOP accounting and the matmul reference ----------------------------------------------
@dataclass(frozen=True)
class Gemm:
    """One float32 product ``(m, k) @ (k, n)`` of a training step: 2·m·k·n FLOPs."""

    layer: str
    kind: str  # "forward", "input grad" or "weight grad"
    m: int
    k: int
    n: int

    @property
    def flops(self) -> int:
        return 2 * self.m * self.k * self.n

    @property
    def shape(self) -> tuple[str, int, int, int]:
        return (self.kind, self.m, self.k, self.n)


def step_gemms(model: nn.Module, batch: int, no_input_grad: set[str]) -> list[Gemm]:
    """The matmuls of one training step of ``model`` at ``batch`` records.

    A linear layer ``in → out`` costs a forward product (batch, in) @ (in, out), an input
    gradient (batch, out) @ (out, in) and a weight gradient (out, batch) @ (batch, in); layers
    named in ``no_input_grad`` (those fed the data) have no input gradient.
    """
    gemms = []
    for name, layer in model.named_modules():
        if not isinstance(layer, nn.Linear):
            continue
        a, b = layer.in_features, layer.out_features
        gemms.append(Gemm(name, "forward", batch, a, b))
        if name not in no_input_grad:
            gemms.append(Gemm(name, "input grad", batch, b, a))
        gemms.append(Gemm(name, "weight grad", b, batch, a))
    return gemms


def gemm_call(g: Gemm):
    """A zero-argument callable running ``g`` in the memory layout autograd uses for it."""
    gen = torch.Generator().manual_seed(0)

    def rand(*shape: int) -> Tensor:
        return torch.randn(*shape, generator=gen)

    if g.kind == "forward":  # F.linear = addmm(bias, x, W.T)
        x, w, bias = rand(g.m, g.k), rand(g.n, g.k), rand(g.n)
        return lambda: F.linear(x, w, bias)
    if g.kind == "input grad":  # dy @ W
        dy, w = rand(g.m, g.k), rand(g.k, g.n)
        return lambda: dy @ w
    dy, x = rand(g.k, g.m), rand(g.k, g.n)  # dW = dy.T @ x, dy stored (batch, out)
    return lambda: dy.t() @ x


def time_gemms(gemms: list[Gemm], min_seconds: float) -> dict[tuple, float]:
    """Best seconds per call of every distinct GEMM shape in ``gemms``."""
    shapes = {g.shape: g for g in gemms}
    return {s: seconds_per_call(gemm_call(g), min_seconds) for s, g in shapes.items()}


def square_gflops(size: int = 2048) -> float:
    a, b = torch.randn(size, size), torch.randn(size, size)
    return 2 * size**3 / seconds_per_call(lambda: a @ b, min_seconds=0.0) / 1e9


def gemm_summary(g: Gemm, secs: float) -> dict[str, Any]:
    """One row of the reference table: shape, work, time and rate of ``g``."""
    return {
        "layer": g.layer,
        "kind": g.kind,
        "m": g.m,
        "k": g.k,
        "n": g.n,
        "gflop": g.flops / 1e9,
        "ms": secs * 1e3,
        "gflops": g.flops / secs / 1e9,
    }
