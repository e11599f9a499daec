"""Multi-process training under torchrun: one process per CPU slot or GPU, DistributedDataParallel.

    torchrun --nproc_per_node=2 --master_addr=127.0.0.1 --master_port=29500 \\
        -m deeprnn train --engine torch --distributed --preset timemachine-lstm

Backends: gloo on CPU, NCCL on GPU (each rank takes cuda:LOCAL_RANK). Each rank owns a contiguous slice
of the B text streams of every batch (columns r·B/N .. (r+1)·B/N), so the hidden state carried from
batch to batch stays continuous, exactly as in one process; DDP averages the gradients, which equals
the gradient of the mean loss over the global batch. Only rank 0 writes checkpoints and logs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    def columns(self, batch: int) -> slice:
        """This rank's streams among ``batch`` (which must divide evenly)."""
        if batch % self.size:
            raise ValueError(f"expected batch_size divisible by the {self.size} processes, got {batch}")
        per = batch // self.size
        return slice(self.rank * per, (self.rank + 1) * per)


TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")  # what torchrun sets


def missing_environment() -> list[str]:
    """The variables of TORCHRUN_ENV that are not set: all of them in a process not started by torchrun."""
    return [v for v in TORCHRUN_ENV if v not in os.environ]


def init(device_kind: str) -> World:
    """Join the process group that torchrun describes in the environment."""
    import torch.distributed as dist

    missing = missing_environment()
    if missing:
        raise ValueError(f"expected the environment torchrun sets ({', '.join(missing)}), got a plain process")
    world = World(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ["LOCAL_RANK"]))
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device_kind == "cuda" else "gloo")
    return world


def shutdown(clean: bool = True) -> None:
    """Leave the process group. After a clean run, a barrier first: without it, gloo on loopback
    aborted at exit in about 1 run in 5 ("terminate called without an active exception"). After a
    failure, no barrier: the other processes may be waiting in another collective, and the barrier would
    wait for them forever instead of ending the job."""
    import torch.distributed as dist

    if dist.is_initialized():
        if clean:
            dist.barrier()
        dist.destroy_process_group()
