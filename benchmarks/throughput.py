"""Training throughput of a wide MLP VAE beside torch's own matmul rate (issue #2).

Three things are measured in one run, interleaved round by round so that a change in machine
load hits all of them alike:

1. **Matmul reference.** Every float32 matrix product of one training step, timed alone in the
   exact shape and memory layout autograd uses (forward ``F.linear``, input gradient
   ``dy @ W``, weight gradient ``dy.T @ x``). Their FLOPs divided by their summed time is the
   rate this torch build reaches on exactly these matmuls: the ceiling for the network. A
   2048³ square matmul is reported for context.
2. **biovae.** The real training loop (:func:`biovae.training.fit_model`) on synthetic Gaussian
   data: 2,000 features, hidden (1024,), 32 latent dimensions, batch 512, Adam. One warm-up
   pass is discarded; each round then times one full epoch with the loop's own clock.
3. **Plain torch peer.** The same network and ELBO written as a hand-made ``nn.Sequential``
   + Adam loop, so the framework overhead is visible as a ratio.

FLOPs of a step are counted analytically from the model's ``nn.Linear`` layers: 2·n·in·out for
the forward product, the same for the weight gradient and for the input gradient, except the
first encoder layer, whose input (the data) needs no gradient. Bias adds, norms, activations,
dropout, the likelihood and the optimiser are not counted: they are the overhead we measure.

Usage: ``python benchmarks/throughput.py [--quick] [--threads N] [--out FILE] [--check]``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    CpuShare,
    Gemm,
    gemm_summary,
    load_average,
    machine_info,
    markdown_table,
    median,
    square_gflops,
    step_gemms,
    time_gemms,
    write_json_atomic,
)
from biovae import likelihoods
from biovae.config import (
    LikelihoodConfig,
    ModelConfig,
    NetworkConfig,
    ObjectiveConfig,
    TrainConfig,
)
from biovae.models import build_model
from biovae.training import InMemorySource, fit_model, seeded

N_FEATURES, HIDDEN, N_LATENT, BATCH = 2000, 1024, 32, 512
TARGET = 0.50  # fraction of the matmul reference rate the issue asks for
DISTURBED = 0.10  # share of the CPU used by other processes that marks an epoch as disturbed
NETWORKS = {
    "default": NetworkConfig(hidden=(HIDDEN,)),  # dropout 0.1, LayerNorm, ReLU
    "plain": NetworkConfig(hidden=(HIDDEN,), dropout=0.0, norm="none"),
}


# -- the two trainers -------------------------------------------------------------------------
class BiovaeTrainer:
    """biovae's own model and training loop; each call of :meth:`epoch` is one ``fit_model``."""

    no_input_grad: ClassVar[set[str]] = {"encoder.trunk.linears.0"}

    def __init__(self, network: NetworkConfig, x: Tensor) -> None:
        lik_cfg = LikelihoodConfig(name="gaussian", variance="feature")
        with seeded(0):
            lik = likelihoods.build(lik_cfg, data_shape=(x.shape[1],))
            config = ModelConfig(kind="vae", n_latent=N_LATENT, likelihood=lik_cfg, network=network)
            self.model = build_model(lik, 0, config)
        self.x = x

    def epoch(self, seed: int, x: Tensor | None = None) -> float:
        """Seconds of one training epoch over ``x``, as the loop itself clocks it."""
        cfg = TrainConfig(
            epochs=1, batch_size=BATCH, lr=1e-3, validation_fraction=0.0, patience=0, seed=seed
        )
        source = InMemorySource(self.x if x is None else x)
        with seeded(seed):
            history = fit_model(
                self.model, source, None, ObjectiveConfig(beta=1.0), cfg, progress=False
            )
        return history[-1]["seconds"]


class PlainVAE(nn.Module):
    """The same network and −ELBO written directly in torch (Gaussian q, per-feature σ)."""

    def __init__(self, network: NetworkConfig) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(N_FEATURES, HIDDEN), *_post(network))
        self.loc = nn.Linear(HIDDEN, N_LATENT)
        self.scale = nn.Linear(HIDDEN, N_LATENT)
        self.decoder = nn.Sequential(
            nn.Linear(N_LATENT, HIDDEN), *_post(network), nn.Linear(HIDDEN, N_FEATURES)
        )
        self.raw_sigma = nn.Parameter(torch.full((N_FEATURES,), math.log(math.expm1(1.0))))

    def forward(self, x_nf: Tensor) -> Tensor:
        h = self.encoder(x_nf)
        loc, scale = self.loc(h), F.softplus(self.scale(h)) + 1e-4
        z = loc + scale * torch.randn_like(loc)
        sigma = F.softplus(self.raw_sigma) + 1e-4
        nll_n = (0.5 * ((x_nf - self.decoder(z)) / sigma) ** 2 + sigma.log()).sum(-1)
        kl_n = (0.5 * (loc**2 + scale**2 - 1.0) - scale.log()).sum(-1)
        return (nll_n + kl_n).mean() + 0.5 * math.log(2 * math.pi) * N_FEATURES


def _post(network: NetworkConfig) -> list[nn.Module]:
    norm = [nn.LayerNorm(HIDDEN, elementwise_affine=False)] if network.norm == "layer" else []
    drop = [nn.Dropout(network.dropout)] if network.dropout > 0 else []
    return [*norm, nn.ReLU(), *drop]


class TorchTrainer:
    """A hand-written loop: shuffle, slice, forward, backward, Adam step. Nothing else."""

    no_input_grad: ClassVar[set[str]] = {"encoder.0"}

    def __init__(self, network: NetworkConfig, x: Tensor) -> None:
        with seeded(0):
            self.model = PlainVAE(network)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.x = x

    def epoch(self, seed: int, x: Tensor | None = None) -> float:
        x = self.x if x is None else x
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
        with seeded(seed):
            t0 = time.perf_counter()
            for idx in order.split(BATCH):
                loss = self.model(x[idx])
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
            return time.perf_counter() - t0


# -- the run ----------------------------------------------------------------------------------
def synthetic_data(n: int, seed: int = 0) -> Tensor:
    """Standardised Gaussian data with a 10-dimensional structure plus noise, (n, 2000)."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, 10, generator=gen)
    w = torch.randn(10, N_FEATURES, generator=gen) / math.sqrt(10)
    return (z @ w + 0.5 * torch.randn(n, N_FEATURES, generator=gen)) / math.sqrt(1.25)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Interleaved rounds of the reference GEMMs and one epoch of every trainer."""
    machine = machine_info()
    x = synthetic_data(args.records)
    trainers = {
        f"{lib} {net}": cls(NETWORKS[net], x)
        for net in NETWORKS
        for lib, cls in (("biovae", BiovaeTrainer), ("torch", TorchTrainer))
    }
    gemms = {name: step_gemms(t.model, BATCH, t.no_input_grad) for name, t in trainers.items()}
    flops = {name: sum(g.flops for g in gs) for name, gs in gemms.items()}
    assert len(set(flops.values())) == 1, f"trainers differ in matmul work: {flops}"
    reference = gemms["biovae default"]
    for t in trainers.values():  # warm-up: allocator, kernel choice, Adam state
        t.epoch(seed=10_000, x=x[: 4 * BATCH])
    rounds = [measure_round(args, r, trainers, reference) for r in range(args.rounds)]
    machine["load_average_end"] = load_average()
    return summarise(args, machine, reference, flops["biovae default"], list(trainers), rounds)


def measure_round(args, r: int, trainers: dict, reference: list[Gemm]) -> dict[str, Any]:
    """One round: the reference GEMMs, then one epoch per trainer (order flips every round)."""
    with CpuShare() as share:
        row: dict[str, Any] = {"gemm_seconds": time_gemms(reference, args.gemm_seconds)}
        row["square_gflops"] = square_gflops()
    row["gemm_other_cpu_share"] = share.other
    row["epoch_seconds"], row["epoch_other_cpu_share"] = {}, {}
    for name in trainers if r % 2 == 0 else reversed(trainers):
        secs, other = clean_epoch(trainers[name], r, args.retries)
        row["epoch_seconds"][name], row["epoch_other_cpu_share"][name] = secs, other
    print(
        f"round {r + 1}/{args.rounds}: "
        + ", ".join(
            f"{k} {v:.2f} s (others {_pct(row['epoch_other_cpu_share'][k])})"
            for k, v in row["epoch_seconds"].items()
        ),
        file=sys.stderr,
    )
    return row


def clean_epoch(trainer, seed: int, retries: int) -> tuple[float, float | None]:
    """Seconds of one epoch, re-run up to ``retries`` times while other processes were busy.

    Returns the fastest attempt and the share of the CPU other processes used during it.
    """
    best: tuple[float, float | None] | None = None
    for _ in range(retries + 1):
        with CpuShare() as share:
            secs = trainer.epoch(seed)
        if best is None or secs < best[0]:
            best = (secs, share.other)
        if share.other is None or share.other < DISTURBED:
            break
    return best


def summarise(
    args, machine: dict, reference: list[Gemm], step_flops: int, names: list[str], rounds: list
) -> dict[str, Any]:
    """Best (fastest) of the rounds for the matmul reference and every trainer.

    Other processes can only slow a measurement down, so on a shared machine the fastest
    round is the most reproducible figure; medians are kept beside it.
    """
    steps = math.ceil(args.records / BATCH)
    shape_secs = {s: min(r["gemm_seconds"][s] for r in rounds) for s in rounds[0]["gemm_seconds"]}
    ref_seconds = sum(shape_secs[g.shape] for g in reference)
    ref_gflops = step_flops / ref_seconds / 1e9
    trainers = {n: _trainer_summary(args, n, rounds, step_flops, ref_gflops) for n in names}
    for name, t in trainers.items():
        peer = trainers[name.replace("biovae", "torch")]
        t["time_vs_torch_peer"] = peer["samples_per_s"] / t["samples_per_s"]
    return {
        "machine": machine,
        "command": " ".join(["python", *sys.argv]),
        "settings": {
            "records": args.records,
            "batch": BATCH,
            "steps_per_epoch": steps,
            "features": N_FEATURES,
            "hidden": HIDDEN,
            "latent": N_LATENT,
            "rounds": args.rounds,
            "retries": args.retries,
            "quick": args.quick,
        },
        "step_gflop": step_flops / 1e9,
        "reference": {
            "gflops": ref_gflops,
            "ms_per_step": ref_seconds * 1e3,
            "gemms": [gemm_summary(g, shape_secs[g.shape]) for g in reference],
            "square_2048_gflops": max(r["square_gflops"] for r in rounds),
            "other_cpu_share": [r["gemm_other_cpu_share"] for r in rounds],
        },
        "trainers": trainers,
        "target": TARGET,
    }


def _trainer_summary(args, name: str, rounds: list, step_flops: int, ref_gflops: float) -> dict:
    all_secs = [r["epoch_seconds"][name] for r in rounds]
    best = min(range(len(rounds)), key=all_secs.__getitem__)
    secs, steps = all_secs[best], math.ceil(args.records / BATCH)
    gflops = step_flops * steps / secs / 1e9
    return {
        "epoch_seconds": all_secs,
        "other_cpu_share": [r["epoch_other_cpu_share"][name] for r in rounds],
        "best_round_other_cpu_share": rounds[best]["epoch_other_cpu_share"][name],
        "samples_per_s": args.records / secs,
        "median_samples_per_s": args.records / median(all_secs),
        "ms_per_step": secs / steps * 1e3,
        "gflops": gflops,
        "fraction_of_reference": gflops / ref_gflops,
    }


def report(result: dict[str, Any]) -> str:
    """Markdown tables of the result (the same rows go into benchmarks/RESULTS.md)."""
    ref, m = result["reference"], result["machine"]
    gemm_rows = [
        (
            g["layer"],
            g["kind"],
            f"{g['m']}×{g['k']} @ {g['k']}×{g['n']}",
            f"{g['gflop']:.3f}",
            f"{g['ms']:.2f}",
            f"{g['gflops']:.0f}",
        )
        for g in ref["gemms"]
    ]
    gemm_rows.append(
        (
            "**all of one step**",
            "",
            "",
            f"{result['step_gflop']:.3f}",
            f"{ref['ms_per_step']:.1f}",
            f"**{ref['gflops']:.0f}**",
        )
    )
    gemm_rows.append(
        (
            "square (context)",
            "forward",
            "2048×2048 @ 2048×2048",
            "17.180",
            "",
            f"{ref['square_2048_gflops']:.0f}",
        )
    )
    train_rows = [
        (
            name,
            f"{t['samples_per_s']:,.0f}",
            f"{t['median_samples_per_s']:,.0f}",
            f"{t['ms_per_step']:.1f}",
            f"{t['gflops']:.0f}",
            f"{100 * t['fraction_of_reference']:.0f} %",
            f"{t['time_vs_torch_peer']:.2f}×",
            _pct(t["best_round_other_cpu_share"]),
        )
        for name, t in result["trainers"].items()
    ]
    headers = [
        "trainer (network)",
        "samples/s",
        "median",
        "ms/step",
        "GFLOP/s",
        "of matmul rate",
        "time vs torch loop",
        "others' CPU",
    ]
    return "\n\n".join(
        [
            f"{m['date']}, {m['nproc']} × {m['cpu']}, torch {m['torch']} "
            f"({m['threads']} intra-op threads), "
            f"best of {result['settings']['rounds']} rounds of {result['settings']['records']:,} "
            f"records ({result['settings']['steps_per_epoch']} steps)",
            markdown_table(["layer", "product", "shape", "GFLOP", "ms", "GFLOP/s"], gemm_rows),
            markdown_table(headers, train_rows),
            verdict(result),
            *shared_machine_warning(result),
        ]
    )


def verdict(result: dict[str, Any]) -> str:
    got = result["trainers"]["biovae default"]["fraction_of_reference"]
    status = "meets" if got >= result["target"] else "MISSES"
    return (
        f"biovae (default network) reaches {100 * got:.0f} % of the matmul rate: "
        f"{status} the {100 * result['target']:.0f} % target."
    )


def shared_machine_warning(result: dict[str, Any]) -> list[str]:
    shares = [t["best_round_other_cpu_share"] for t in result["trainers"].values()]
    if not any(s is not None and s >= DISTURBED for s in shares):
        return []
    return [
        "WARNING: other processes used the CPU during the best epoch of some trainer "
        '(column "others\' CPU"); those rows understate the speed. Re-run on an idle machine.'
    ]


def _pct(share: float | None) -> str:
    return "n/a" if share is None else f"{100 * share:.0f} %"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short round (smoke test)")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (5; 1 with --quick)")
    parser.add_argument(
        "--retries",
        type=int,
        default=None,
        help="re-runs of an epoch disturbed by other processes (2; 0 with --quick)",
    )
    parser.add_argument("--out", type=Path, default=Path("bench-output/throughput.json"))
    parser.add_argument(
        "--check", action="store_true", help="exit with status 1 when the target is missed"
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    args.records = 10 * BATCH if args.quick else 40 * BATCH
    args.rounds = args.rounds or (1 if args.quick else 5)
    args.retries = args.retries if args.retries is not None else (0 if args.quick else 2)
    args.gemm_seconds = 0.02 if args.quick else 0.05
    result = measure(args)
    write_json_atomic(args.out, result)
    print(report(result))
    print(f"\n(full result in {args.out})")
    return 1 if args.check and "MISSES" in verdict(result) else 0


if __name__ == "__main__":
    sys.exit(main())
