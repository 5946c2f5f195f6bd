"""The training loop's view of ``torch.distributed`` (DDP launched with ``torchrun``).

Without an initialised process group everything degrades to a single process, so the same loop
runs on a laptop and on many GPUs.
"""

from __future__ import annotations

import contextlib
import gc
import os
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.distributed as dist
from torch import nn

from biovae.errors import BiovaeError, ConfigError, LaunchError, PeerStoppedError
from biovae.setting_names import setting

T = TypeVar("T")


@dataclass(frozen=True)
class DistContext:
    """Rank and world size of this process (0 and 1 without a process group)."""

    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def current(cls) -> DistContext:
        if dist.is_available() and dist.is_initialized():
            return cls(dist.get_rank(), dist.get_world_size())
        return cls()

    def device(self, name: str) -> torch.device:
        """The device this process trains on: ``name``, except that a bare ``cuda`` with
        several processes means this process's own GPU (``LOCAL_RANK``, set by ``torchrun``)."""
        device = torch.device(name)
        if device.type == "cuda":
            if not torch.cuda.is_available():
                raise ConfigError(
                    f"train.device {name!r}: this torch sees no CUDA GPU; train with "
                    f"{setting('train.device', 'cpu')}"
                )
            if device.index is None and self.world_size > 1:
                device = torch.device("cuda", _local_rank(self.rank))
            if device.index is not None and device.index >= torch.cuda.device_count():
                raise ConfigError(
                    f"train.device {name!r}: this machine has {torch.cuda.device_count()} "
                    f"CUDA GPU(s), cuda:0 to cuda:{torch.cuda.device_count() - 1}"
                )
        return device

    def wrap(self, model: nn.Module, device: torch.device | None = None) -> nn.Module:
        """DistributedDataParallel around ``model`` (already on ``device``) when running with
        several processes."""
        if self.world_size == 1:
            return model
        if device is not None and device.type == "cuda":
            return nn.parallel.DistributedDataParallel(model, device_ids=[device.index])
        return nn.parallel.DistributedDataParallel(model)

    def sync_buffers(self, model: nn.Module) -> None:
        """Give every rank rank 0's buffers (batch-norm running statistics). DDP broadcasts them
        before each training forward, but each rank then updates its own copy from its own
        minibatch, so after an epoch the ranks' copies differ: evaluated as they were, the ranks
        would see different validation losses and could disagree on early stopping (and one
        rank would wait forever for the others)."""
        if self.world_size > 1:
            for buffer in model.buffers():
                dist.broadcast(buffer, src=0)

    def gather(self, value: torch.Tensor) -> list[torch.Tensor]:
        """``value`` (same shape on every rank, e.g. an RNG state) from every rank, in rank
        order; every rank must call it."""
        if self.world_size == 1:
            return [value]
        home, value = value.device, value.contiguous().to(_wire())  # NCCL: GPU tensors only
        out = [torch.empty_like(value) for _ in range(self.world_size)]
        dist.all_gather(out, value)
        return [t.to(home) for t in out]

    def all_finite(self, value: torch.Tensor) -> bool:
        """Whether ``value`` is finite on every rank (all raise together, none waits)."""
        ok = torch.isfinite(value.detach()).all().to(torch.int32).reshape(1)
        if self.world_size > 1:
            dist.all_reduce(ok, op=dist.ReduceOp.MIN)
        return bool(ok.item())

    def sum(self, values: torch.Tensor) -> torch.Tensor:
        """Sum a tensor of epoch statistics over all ranks."""
        if self.world_size > 1:
            values = values.clone()
            dist.all_reduce(values, op=dist.ReduceOp.SUM)
        return values

    def on_main(self, work: Callable[[], T]) -> T | None:
        """``work()`` (writing an output) on rank 0 alone, after which every rank learns whether
        it succeeded: if it raised, rank 0 raises that error and every other rank a one-line
        :class:`PeerStoppedError`, rather than waiting in its next collective for a process
        that has gone. Every rank must call it; it costs one one-number broadcast, so it belongs
        beside writes (checkpoints, the final outputs), never in the per-batch path."""
        if self.world_size == 1:
            return work()
        try:
            result = work() if self.is_main else None
        except Exception:
            self._main_succeeded(False)
            raise
        if not self._main_succeeded(True):
            raise PeerStoppedError(
                f"rank 0 failed (its message, above or in its log, says why); rank {self.rank} "
                "stopped with it"
            )
        return result

    def _main_succeeded(self, ok: bool) -> bool:
        """Rank 0's ``ok``, on every rank."""
        flag = torch.tensor([int(ok)], dtype=torch.int32, device=_wire())
        dist.broadcast(flag, src=0)
        return bool(flag.item())


def _wire() -> torch.device:
    """Where a collective's tensors must be: this rank's GPU under NCCL (which cannot send
    host tensors, e.g. the CPU random state gathered for checkpoints), else the CPU."""
    return torch.device("cuda" if dist.get_backend() == "nccl" else "cpu")


@contextlib.contextmanager
def launched(device: str = "cpu") -> Iterator[DistContext]:
    """Join the process group that ``torchrun`` describes (``WORLD_SIZE`` > 1; NCCL for CUDA
    training, else gloo) for the block, and leave it afterwards; outside ``torchrun``, or with a
    group already set up by the caller, the block runs unchanged. Every rank waits for the
    others before the group is torn down (without that barrier gloo ranks sometimes abort).
    A collective that fails because another process has gone (it exited on an error of its
    own, or was killed) becomes a one-line :class:`PeerStoppedError` naming this rank."""
    if dist.is_initialized() or launch_world() <= 1:
        yield DistContext.current()
        return
    cuda = torch.device(device).type == "cuda"
    if cuda:
        torch.cuda.set_device(_own_gpu(device))
    dist.init_process_group("nccl" if cuda else "gloo")
    ctx = DistContext.current()
    try:
        yield ctx
        gc.collect()  # free the DDP wrapper's cycles (they hold the group) while it is alive
        dist.barrier()
    except BaseException as exc:
        _drop_frames(exc)
        if not isinstance(exc, RuntimeError) or not _peer_gone(exc):
            raise
        raise PeerStoppedError(
            f"another process stopped (its message, above or in its log, says why); rank "
            f"{ctx.rank} stopped with it"
        ) from None
    finally:
        dist.destroy_process_group()


#: what ``torchrun`` tells each process besides ``WORLD_SIZE`` (torch's ``env://`` rendezvous)
_LAUNCH_VARS = ("RANK", "MASTER_ADDR", "MASTER_PORT")


def launch_world() -> int:
    """The number of processes ``torchrun`` started: ``WORLD_SIZE`` (1 when unset or empty),
    checked with the rest of what torchrun sets, so that a ``WORLD_SIZE`` left in the
    environment by something else (a job scheduler, an earlier export) is a one-line error
    rather than torch's rendezvous traceback."""
    text = os.environ.get("WORLD_SIZE") or "1"
    world = int(text) if text.strip().isdigit() else 0
    fix = (
        "start the processes with torchrun (it sets WORLD_SIZE, RANK, MASTER_ADDR and "
        "MASTER_PORT), or unset WORLD_SIZE to train in one process"
    )
    if world < 1:
        raise LaunchError(f"WORLD_SIZE={text!r} is not a number of processes; {fix}")
    if world == 1:
        return 1
    missing = [name for name in _LAUNCH_VARS if not os.environ.get(name)]
    if missing:
        raise LaunchError(f"WORLD_SIZE is {world} but {missing[0]} is not set; {fix}")
    rank = os.environ["RANK"]
    if not (rank.strip().isdigit() and int(rank) < world):
        raise LaunchError(
            f"RANK={rank!r} is not a rank of WORLD_SIZE {world} (0 to {world - 1}); {fix}"
        )
    return world


def _drop_frames(exc: BaseException) -> None:
    """Free what the frames ``exc`` passed through hold (their locals: its traceback still
    prints) before the group is torn down: the DDP wrapper among them holds the group, and
    freed only at exit, after the teardown, it made gloo abort the process now and then
    ("terminate called without an active exception") after its one-line error."""
    traceback.clear_frames(exc.__traceback__)
    gc.collect()


#: how gloo words a collective's failure when the process at the other end has gone: it
#: closed the connection (exited), reset it, or stopped reading (pair.cc's read/write errors)
_GONE = ("Connection closed by peer", "Connection reset by peer", "Broken pipe")


def _peer_gone(exc: RuntimeError) -> bool:
    """Whether ``exc`` is gloo's report of another process gone, not an error of this one's:
    torch raises these as plain ``RuntimeError`` (or its ``DistError`` subclasses) whose text,
    from gloo's TCP transport, is all that tells them apart."""
    text = str(exc)
    return not isinstance(exc, BiovaeError) and "gloo" in text and any(s in text for s in _GONE)


def _own_gpu(device: str) -> int:
    """This process's GPU under NCCL, which wants one GPU per process: the one named, else
    ``LOCAL_RANK``'s. Processes that would share a GPU, or a GPU this machine lacks, are a
    one-line error before any process group is joined (NCCL would fail later, less clearly)."""
    if not torch.cuda.is_available():
        raise ConfigError(
            f"train.device {device!r}: this torch sees no CUDA GPU; train with "
            f"{setting('train.device', 'cpu')}"
        )
    here = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    gpus = torch.cuda.device_count()
    named = torch.device(device).index
    if named is not None:
        if here > 1:
            raise ConfigError(
                f"train.device {device!r} under torchrun with {here} processes on this machine: "
                f"they would share one GPU; use {setting('train.device', 'cuda')} (each takes "
                "cuda:$LOCAL_RANK)"
            )
        if named >= gpus:
            raise ConfigError(
                f"train.device {device!r}: this machine has {gpus} CUDA GPU(s), "
                f"cuda:0 to cuda:{gpus - 1}"
            )
        return named
    local = _local_rank(int(os.environ.get("RANK", "0")))
    if here > gpus or local >= gpus:
        raise ConfigError(
            f"torchrun started {max(here, local + 1)} processes on this machine but it has "
            f"{gpus} CUDA GPU(s), and NCCL needs one per process: use --nproc_per_node={gpus}, "
            f"or {setting('train.device', 'cpu')}"
        )
    return local


def _local_rank(rank: int) -> int:
    """This process's GPU on its machine: ``LOCAL_RANK`` (set by ``torchrun``), else the global
    rank modulo the GPUs visible here."""
    return int(os.environ.get("LOCAL_RANK", rank % max(torch.cuda.device_count(), 1)))
