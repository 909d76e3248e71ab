"""What the trainers share: devices, mixed precision, torchrun/DDP, EMA, dvclive, resume guards."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import logging
import math
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.distributed as torch_dist
from dvclive import Live
from torch.nn.parallel import DistributedDataParallel

from pipeline.errors import TrainingDiverged
from pipeline.files import atomic_dir

log = logging.getLogger(__name__)


def default_device() -> torch.device:
    """CUDA when present (with TF32 matmuls allowed), else the CPU."""
    if torch.cuda.is_available():
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        return torch.device("cuda")
    return torch.device("cpu")


CPU_BF16 = "SYNTHSET_CPU_BF16"  # =1: the CUDA path's bf16 autocast on the CPU, to test it there


def precision(device: torch.device) -> str:
    """What the networks compute in on `device`: bf16 on CUDA, float32 on the CPU unless the
    environment sets SYNTHSET_CPU_BF16=1."""
    if device.type == "cuda" or os.environ.get(CPU_BF16) == "1":
        return "bf16"
    return "float32"


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast where `precision` says bf16 (CUDA, or a CPU asked to), else a no-op."""
    if precision(device) == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def on_device(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """`model` moved to `device`, in channels_last memory where it computes in bf16 (the layout
    CUDA's bf16 convolutions are fastest in; a CPU asked for bf16 takes it too, so tests see it)."""
    model = model.to(device)
    if precision(device) == "bf16":
        model = model.to(memory_format=torch.channels_last)
    return model


@dataclass(frozen=True)
class Dist:
    """This process's place in a torchrun job (rank 0 of 1 without torchrun)."""

    rank: int
    world: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0

    def shard(self, n: int) -> slice:
        """This rank's contiguous share of a global batch of n items (n divisible by world)."""
        size = n // self.world
        return slice(self.rank * size, (self.rank + 1) * size)

    def mean(self, value: float) -> float:
        """The mean of a per-rank scalar over all ranks."""
        if self.world == 1:
            return value
        tensor = torch.tensor([value], dtype=torch.float64, device=self.device)
        torch_dist.all_reduce(tensor)
        return float(tensor) / self.world

    def wrap(self, model: torch.nn.Module, unused: bool = False) -> torch.nn.Module:
        """The model in DistributedDataParallel when there is more than one process; `unused`
        for models with parameters outside the forward pass (an smp encoder cut to a depth)."""
        if self.world == 1:
            return model
        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids, find_unused_parameters=unused)

    def barrier(self) -> None:
        if self.world > 1:
            torch_dist.barrier()


def init_dist() -> Dist:
    """Join the torchrun process group when WORLD_SIZE > 1 (NCCL on CUDA, gloo on the CPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Dist(0, 1, default_device())
    cuda = torch.cuda.is_available()
    if not torch_dist.is_initialized():
        torch_dist.init_process_group("nccl" if cuda else "gloo")
    if cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        default_device()
        device = torch.device("cuda", local)
    else:
        device = torch.device("cpu")
    return Dist(torch_dist.get_rank(), torch_dist.get_world_size(), device)


def close_dist(dist: Dist) -> None:
    """Leave the process group joined by init_dist."""
    if dist.world > 1 and torch_dist.is_initialized():
        torch_dist.destroy_process_group()


class _QueueSafeDvclive(Live):
    """dvclive's Live whose end() survives one race of DVC's queue: every experiment of a queue
    shares the VS Code step signal file (.dvc/tmp/exps/run/DVCLIVE_STEP_COMPLETED), which
    dvclive 3.49 checks, then removes; two experiments ending at once made the second stage fail
    after all its work was written."""

    def end(self) -> None:
        try:
            super().end()
        except FileNotFoundError as err:
            if Path(err.filename or "").name != "DVCLIVE_STEP_COMPLETED":
                raise


def make_live(folder: Path, resume: bool = False) -> Live:
    """The dvclive Live of a stage: its own folder, no dvc.yaml of its own (dvc.yaml declares the
    metrics and plots), no DVC experiment of its own."""
    return _QueueSafeDvclive(str(folder), dvcyaml=False, save_dvc_exp=False, resume=resume)


@contextlib.contextmanager
def main_live(folder: Path, dist: Dist, resume_step: int | None = None) -> Iterator[Live | None]:
    """A dvclive Live for `folder` on rank 0 (dvcyaml=False), None on the other ranks; with
    `resume_step`, the earlier log is kept up to that step and logging goes on from it."""
    if not dist.main:
        yield None
        return
    resume = resume_step is not None
    with make_live(folder, resume) as live:
        if resume:
            trim_live_history(folder, resume_step)
            live.step = resume_step
        yield live


class Ema:
    """An exponential moving average of a model's weights, and a copy of the model that holds
    it for evaluation and saving: diffusers' EMAModel, whose first update copies the weights and
    whose decay then warms up as min(decay, (1 + n) / (10 + n)) after n updates, so early
    evaluations are not dominated by the random initial weights."""

    def __init__(self, model: torch.nn.Module, decay: float):
        from diffusers.training_utils import EMAModel  # on use: the segmentation stages skip it

        self.average = EMAModel(model.parameters(), decay=decay)
        self.model = copy.deepcopy(model)

    def update(self, model: torch.nn.Module) -> None:
        self.average.step(model.parameters())

    @property
    def module(self) -> torch.nn.Module:
        """The model with the averaged weights."""
        self.average.copy_to(self.model.parameters())
        return self.model

    def state_dict(self) -> dict:
        return self.average.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.average.load_state_dict(state)
        self.average.to(device=next(self.model.parameters()).device)


def make_ema(model: torch.nn.Module, decay: float) -> Ema | None:
    """The weights' exponential moving average, or None when decay is 0."""
    return Ema(model, decay) if decay > 0 else None


def fingerprint(*parts: Any) -> str:
    """A short hash of JSON-able parts (params, data shape and checksum) to guard resumption."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def array_checksum(array: np.ndarray) -> str:
    """A cheap checksum of a (memory-mapped) array: its shape and up to 4096 strided rows' bytes."""
    flat = array.reshape(len(array), -1)
    rows = flat[:: max(1, len(flat) // 4096)]
    digest = hashlib.sha256(str(array.shape).encode())
    digest.update(np.ascontiguousarray(rows).tobytes())
    return digest.hexdigest()


def trim_live_history(live_dir: Path, step: int) -> None:
    """Drop dvclive metric rows logged at or after `step`: a resumed run logs those epochs again."""
    for tsv in (Path(live_dir) / "plots" / "metrics").rglob("*.tsv"):
        table = pd.read_csv(tsv, sep="\t")
        if (table["step"] >= step).any():
            table[table["step"] < step].to_csv(tsv, sep="\t", index=False)


def check_finite(loss: float, epoch: int, step: int, checkpoint: Any = None) -> None:
    """Stop a training whose loss is NaN or infinite, naming where (1-based epoch and step)."""
    if math.isfinite(loss):
        return
    kept = getattr(checkpoint, "path", checkpoint)
    last = (
        f"the last good checkpoint {kept} is kept"
        if kept is not None and Path(kept).is_file()
        else "no checkpoint was written yet"
    )
    raise TrainingDiverged(
        f"the training loss became {loss} at epoch {epoch + 1}, step {step + 1}: no weights were"
        f" written and {last}; lower the learning rate or check the training data"
    )


def snapshot_live(live_dir: Path, checkpoint_dir: Path) -> None:
    """Copy a dvclive folder into the checkpoint folder (before the state is saved): DVC deletes
    a stage's outputs before running it, so a resumed run takes its earlier log from here."""
    if Path(live_dir).is_dir():
        with atomic_dir(Path(checkpoint_dir) / "live") as tmp:
            shutil.copytree(live_dir, tmp, dirs_exist_ok=True)


def restore_live(checkpoint_dir: Path, live_dir: Path) -> None:
    """Put back the dvclive folder saved by snapshot_live (the caller trims it to its step)."""
    saved = Path(checkpoint_dir) / "live"
    if saved.is_dir():
        shutil.rmtree(live_dir, ignore_errors=True)
        shutil.copytree(saved, live_dir)
