"""The training loop's view of ``torch.distributed`` (DDP launched with ``torchrun``).

Without an initialised process group everything degrades to a single process, so the same loop
runs on a laptop and on many GPUs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


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

    def wrap(self, model: nn.Module) -> nn.Module:
        """DistributedDataParallel around ``model`` when running with several processes."""
        if self.world_size == 1:
            return model
        return nn.parallel.DistributedDataParallel(model)

    def sum(self, values: torch.Tensor) -> torch.Tensor:
        """Sum a tensor of epoch statistics over all ranks."""
        if self.world_size > 1:
            values = values.clone()
            dist.all_reduce(values, op=dist.ReduceOp.SUM)
        return values
