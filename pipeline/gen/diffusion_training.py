"""The loop the diffusion trainers share (stages train_gen and train_sr): seeded global batches,
ε-prediction steps, EMA, a deterministic validation loss, kept weights, resumable checkpoints,
dvclive logging from rank 0, DDP under torchrun and bf16 autocast on CUDA.

Every random draw of a step (batch order, flips, noise, timesteps) comes from a generator seeded by
(seed, epoch, step) and is made for the whole global batch on every rank, so a torchrun job with
W processes takes exactly the steps of one process on the same global batch, and a resumed run
exactly those of an uninterrupted one. Subclasses say which network they train (`build`), how it
is called (`predict`) and what they evaluate every `eval_every` epochs (`evaluate`).
"""

from __future__ import annotations

import logging
import math
import shutil
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from dvclive import Live
from tqdm import tqdm

from pipeline.checkpoints import load_training_state, save_model, save_training_state
from pipeline.errors import DataError
from pipeline.files import atomic_dir
from pipeline.gen.diffusion import Diffusion, T, epsilon, sample_timesteps, to_model_space
from pipeline.params import DiffusionTrainParams
from pipeline.seeding import torch_generator
from pipeline.training import (
    Dist,
    array_checksum,
    autocast,
    check_finite,
    fingerprint,
    make_ema,
    make_live,
    on_device,
    restore_live,
    snapshot_live,
    trim_live_history,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunPaths:
    """Where a trainer writes: kept weights, resumable checkpoint, dvclive directory."""

    models: Path
    checkpoint: Path
    live: Path


class DiffusionTraining(ABC):
    """One resumable training run of a diffusion network (ε or v output) on packed N×H×W×4 crops.

    `p` is the generator's or the super-resolver's params section. The run keeps `final` and
    `best_val` weights and whatever names `kept` adds (staged by `evaluate`).
    """

    stage = "train"
    kept: tuple[str, ...] = ("best_val",)

    def __init__(
        self, p: DiffusionTrainParams, seed: int, train: np.ndarray, val: np.ndarray, dist: Dist
    ):
        if len(train) < p.batch_size:
            raise DataError(f"{len(train)} training crops are fewer than the batch size")
        if p.batch_size % dist.world:
            raise DataError(f"batch size {p.batch_size} is not divisible by {dist.world} ranks")
        self.p, self.seed, self.train, self.val, self.dist = p, seed, train, val, dist
        self.device = dist.device
        self.config = self.net_config()
        torch.manual_seed(seed)
        self.net = on_device(self.build(self.config), self.device)
        self.model = dist.wrap(self.net)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=p.lr)
        self.ema = make_ema(self.net, p.ema_decay)
        self.diffusion = Diffusion(self.device)
        self.epoch = 0
        self.best_val = math.inf
        self.checkpoint_file: Path | None = None
        self.fingerprint = fingerprint(
            {k: v for k, v in asdict(p).items() if k != "epochs"},
            seed,
            dist.world,
            array_checksum(train),
            array_checksum(val),
        )

    @abstractmethod
    def net_config(self) -> Any:
        """The network's config dataclass, from the params."""

    @abstractmethod
    def build(self, config: Any) -> torch.nn.Module:
        """The network of `config`."""

    def predict(self, model: torch.nn.Module, x_t: torch.Tensor, t: torch.Tensor, x0: torch.Tensor):
        """The network's noise prediction for x_t at t (x0, the clean batch, for conditioning)."""
        return epsilon(model(x_t, t), x_t, t, self.config.prediction)

    def evaluate(self, live: Live, staged: Path) -> str:
        """Every eval_every epochs (rank 0): log extra metrics and figures, stage extra kept
        weights under `staged`; returns a short summary for the log."""
        return ""

    @property
    def deployed(self) -> torch.nn.Module:
        """The weights that are evaluated and kept: the EMA when enabled, else the model."""
        return self.ema.module if self.ema is not None else self.net

    def state(self) -> dict:
        state = {
            "fingerprint": self.fingerprint,
            "epoch": self.epoch,
            "best_val": self.best_val,
            "model": self.net.state_dict(),
            "opt": self.opt.state_dict(),
        }
        if self.ema is not None:
            state["ema"] = self.ema.state_dict()
        return state

    def load_state(self, state: dict) -> None:
        self.epoch, self.best_val = state["epoch"], state["best_val"]
        self.net.load_state_dict(state["model"])
        self.opt.load_state_dict(state["opt"])
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])

    def timesteps(self, generator: torch.Generator, epoch: int, batch: int) -> torch.Tensor:
        """Training timesteps of one step: uniform on [0, T)."""
        return sample_timesteps(generator, batch, T, priority=False)

    def batch(self, epoch: int, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The global batch of a step: clean pairs x0 (with flips), noise and timesteps."""
        p = self.p
        order = torch.randperm(
            len(self.train), generator=torch_generator(self.seed, "order", epoch)
        )
        idx = np.sort(order[step * p.batch_size : (step + 1) * p.batch_size].numpy())
        x0 = to_model_space(self.train[idx])
        g = torch_generator(self.seed, "step", epoch, step)
        if p.flips:
            flip_w, flip_h = torch.rand(2, len(idx), generator=g) < 0.5
            x0[flip_w] = x0[flip_w].flip(-1)
            x0[flip_h] = x0[flip_h].flip(-2)
        noise = torch.randn(x0.shape, generator=g)
        return x0, noise, self.timesteps(g, epoch, len(idx))

    def local_batch(self, epoch: int, step: int) -> tuple[torch.Tensor, ...]:
        """This rank's share of the global batch on its device: x0, noise, t and x_t."""
        x0, noise, t = self.batch(epoch, step)
        share = self.dist.shard(len(x0))
        x0, noise, t = (v[share].to(self.device) for v in (x0, noise, t))
        return x0, noise, t, self.diffusion.q_sample(x0, noise, t)

    def train_step(self, epoch: int, step: int) -> float:
        """One optimisation step on this rank's share of the global batch; returns its loss."""
        x0, noise, t, x_t = self.local_batch(epoch, step)
        with autocast(self.device):
            eps = self.predict(self.model, x_t, t, x0).float()
        loss = self.diffusion.loss(eps, noise, t, self.p.prediction)
        self.check_finite(loss, epoch, step)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.update_ema()
        return loss.item()

    def check_finite(self, loss: torch.Tensor, epoch: int, step: int) -> None:
        """Stop before the step when the loss (mean over ranks) is NaN or infinite."""
        check_finite(self.dist.mean(loss.item()), epoch, step, self.checkpoint_file)

    def update_ema(self) -> None:
        if self.ema is not None:
            self.ema.update(self.net)

    @torch.no_grad()
    def val_loss(self) -> float:
        """Deterministic validation loss: fixed crops, noise seeds and a fixed grid of t."""
        model = self.deployed.eval()
        grid = np.linspace(0, T - 1, self.p.val_timesteps).round().astype(int)
        total = 0.0
        for k, t_value in enumerate(grid):
            g = torch_generator(self.seed, "val", k)
            for start in range(0, len(self.val), self.p.batch_size):
                x0 = to_model_space(self.val[start : start + self.p.batch_size])
                noise = torch.randn(x0.shape, generator=g)
                x0, noise = x0.to(self.device), noise.to(self.device)
                t = torch.full((len(x0),), int(t_value), device=self.device, dtype=torch.long)
                with autocast(self.device):
                    x_t = self.diffusion.q_sample(x0, noise, t)
                    eps = self.predict(model, x_t, t, x0).float()
                total += self.diffusion.loss(eps, noise).item() * len(x0)
        model.train()
        return total / (len(grid) * len(self.val))

    def keep(self, folder: Path) -> None:
        save_model(self.deployed, self.config, folder)

    def log_epoch(self, live: Live, epoch: int, train_loss: float, staged: Path) -> None:
        """Per-epoch metrics and best-validation weights; every eval_every epochs `evaluate`."""
        live.log_metric("train/loss", train_loss)
        live.log_metric("lr", self.opt.param_groups[0]["lr"])
        val = self.val_loss()
        live.log_metric("val/loss", val)
        if val < self.best_val:
            self.best_val = val
            self.keep(staged / "best_val")
        if self.epoch % self.p.eval_every == 0 or self.epoch == self.p.epochs:
            summary = self.evaluate(live, staged)
            log.info("epoch %d: train %.4f val %.4f %s", self.epoch, train_loss, val, summary)
        live.next_step()

    def run(self, paths: RunPaths) -> None:
        """Train for p.epochs epochs (resuming a matching checkpoint) and write the kept weights."""
        p, dist = self.p, self.dist
        staged = paths.checkpoint / "kept"
        self.checkpoint_file = paths.checkpoint / "state.pt"
        state = load_training_state(self.checkpoint_file, self.fingerprint)
        if state is not None:
            self.load_state(state)
            log.info("resuming %s from epoch %d", self.stage, self.epoch)
            if dist.main:
                restore_live(paths.checkpoint, paths.live)
        elif dist.main:
            shutil.rmtree(paths.checkpoint, ignore_errors=True)
        dist.barrier()
        live = None
        if dist.main:
            live = make_live(paths.live, resume=state is not None)
            if state is not None:
                trim_live_history(paths.live, self.epoch)
                live.step = self.epoch
        steps = len(self.train) // p.batch_size
        for epoch in range(self.epoch, p.epochs):
            losses = [
                self.train_step(epoch, s)
                for s in tqdm(
                    range(steps),
                    desc=f"epoch {epoch + 1}/{p.epochs}",
                    leave=False,
                    disable=not dist.main,
                )
            ]
            train_loss = dist.mean(float(np.mean(losses)))
            self.epoch = epoch + 1
            if dist.main:
                self.log_epoch(live, epoch, train_loss, staged)
            if dist.main and (self.epoch % p.checkpoint_every == 0 or self.epoch == p.epochs):
                snapshot_live(paths.live, paths.checkpoint)
                save_training_state(paths.checkpoint / "state.pt", self.state())
            dist.barrier()
        if dist.main:
            with atomic_dir(paths.models) as out:
                self.keep(out / "final")
                for name in self.kept:
                    shutil.copytree(staged / name, out / name)
            live.end()
            shutil.rmtree(paths.checkpoint, ignore_errors=True)
        dist.barrier()
