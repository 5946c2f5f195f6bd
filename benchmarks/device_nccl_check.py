"""NCCL placement check for a lent single-GPU machine (run by ``device_check.sh``).

Two NCCL ranks cannot share one GPU, so DDP's collectives cannot run here; this checks the
assumption biovae's collectives rest on instead, in a one-process NCCL group: a host tensor
(the CPU random state that checkpoints gather) cannot be sent, and the same tensor moved where
``distributed._wire()`` says goes through; ``DistContext._main_succeeded`` (the write-status
broadcast) works there too.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist

from biovae.training.distributed import DistContext, _wire


def main() -> None:
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29533")
    torch.cuda.set_device(0)
    dist.init_process_group("nccl", rank=0, world_size=1)
    try:
        state = torch.get_rng_state()
        try:
            dist.all_gather([torch.empty_like(state)], state)
            print("host tensor under NCCL: sent (no need for _wire)")
        except Exception as exc:  # what the fix is for
            print(f"host tensor under NCCL: {type(exc).__name__}: {str(exc).splitlines()[0]}")
        wire = _wire()
        out = [torch.empty_like(state, device=wire)]
        dist.all_gather(out, state.to(wire))
        print(f"moved to {wire}: gathered, equal = {torch.equal(out[0].cpu(), state)}")
        print(f"write-status broadcast: {DistContext(0, 1)._main_succeeded(True)}")
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
