"""Training of the paired diffusion generator (DESIGN §4): the loop behind stage train_gen.

Every random draw of a step (batch order, flips, noise, timesteps) comes from a generator seeded by
(seed, epoch, step) and is made for the whole global batch on every rank, so a torchrun job with
W processes takes exactly the steps of one process on the same global batch, and a resumed run
exactly those of an uninterrupted one.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from dvclive import Live
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from pipeline.diffusion import (
    Diffusion,
    T,
    sample,
    sample_timesteps,
    t_max,
    to_model_space,
    to_uint8,
)
from pipeline.errors import DataError
from pipeline.figures import pair_grid
from pipeline.io import atomic_dir
from pipeline.metrics import mean_rgb_jsd
from pipeline.nets.discriminator import DiscriminatorConfig, TimeDiscriminator, discriminator_losses
from pipeline.nets.paired_unet import PairedUNetConfig, build_generator
from pipeline.params import GenParams
from pipeline.seeding import torch_generator
from pipeline.training import (
    Dist,
    array_checksum,
    autocast,
    fingerprint,
    load_checkpoint,
    make_ema,
    save_checkpoint,
    trim_live_history,
)

log = logging.getLogger(__name__)


def net_config(p: GenParams) -> PairedUNetConfig:
    """The generator network's config from the gen params."""
    return PairedUNetConfig(
        arch=p.arch,
        skip=p.skip,
        widths=tuple(p.widths),
        layers_per_level=p.layers_per_level,
        heads=p.heads,
        time_dim=p.time_dim,
    )


def save_generator(model: torch.nn.Module, config: PairedUNetConfig, folder: Path) -> None:
    """Write model.safetensors and config.json into `folder` (callers stage the folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().float().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, folder / "model.safetensors")
    (folder / "config.json").write_text(json.dumps(asdict(config), indent=2) + "\n")


def load_generator(folder: Path) -> torch.nn.Module:
    """A generator saved by save_generator, in eval mode on the CPU."""
    folder = Path(folder)
    if not (folder / "config.json").is_file() or not (folder / "model.safetensors").is_file():
        raise DataError(f"no saved generator (config.json + model.safetensors) in {folder}")
    raw = json.loads((folder / "config.json").read_text())
    model = build_generator(PairedUNetConfig(**{**raw, "widths": tuple(raw["widths"])}))
    model.load_state_dict(load_file(folder / "model.safetensors"))
    return model.eval()


@dataclass(frozen=True)
class GenPaths:
    """Where train_gen writes: kept weights, resumable checkpoint, dvclive directory."""

    models: Path
    checkpoint: Path
    live: Path


class GeneratorTraining:
    """One training run of the generator (and optional discriminator), resumable by checkpoint."""

    def __init__(self, p: GenParams, seed: int, train: np.ndarray, val: np.ndarray, dist: Dist):
        if len(train) < p.batch_size:
            raise DataError(f"{len(train)} training crops are fewer than gen.batch_size")
        if p.batch_size % dist.world:
            raise DataError(f"gen.batch_size {p.batch_size} is not divisible by {dist.world} ranks")
        self.p, self.seed, self.train, self.val, self.dist = p, seed, train, val, dist
        self.device = dist.device
        self.config = net_config(p)
        torch.manual_seed(seed)
        self.net = build_generator(self.config).to(self.device)
        self.model = dist.wrap(self.net)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=p.lr)
        self.ema = make_ema(self.net, p.ema_decay)
        self.disc = self.disc_model = self.disc_opt = None
        if p.discriminator:
            self.disc = TimeDiscriminator(DiscriminatorConfig(widths=tuple(p.disc_widths)))
            self.disc.to(self.device)
            self.disc_model = dist.wrap(self.disc)
            self.disc_opt = torch.optim.Adam(self.disc.parameters(), lr=p.lr)
        self.diffusion = Diffusion(self.device)
        self.epoch = 0
        self.best_val = math.inf
        self.min_jsd = math.inf
        self.fingerprint = fingerprint(
            {k: v for k, v in asdict(p).items() if k not in ("epochs", "select")},
            seed,
            dist.world,
            array_checksum(train),
            array_checksum(val),
        )

    @property
    def deployed(self) -> torch.nn.Module:
        """The weights that are evaluated and kept: the EMA when enabled, else the model."""
        return self.ema.module if self.ema is not None else self.net

    def state(self) -> dict:
        state = {
            "fingerprint": self.fingerprint,
            "epoch": self.epoch,
            "best_val": self.best_val,
            "min_jsd": self.min_jsd,
            "model": self.net.state_dict(),
            "opt": self.opt.state_dict(),
        }
        if self.ema is not None:
            state["ema"] = self.ema.state_dict()
        if self.disc is not None:
            state["disc"] = self.disc.state_dict()
            state["disc_opt"] = self.disc_opt.state_dict()
        return state

    def load_state(self, state: dict) -> None:
        self.epoch, self.best_val, self.min_jsd = (
            state["epoch"],
            state["best_val"],
            state["min_jsd"],
        )
        self.net.load_state_dict(state["model"])
        self.opt.load_state_dict(state["opt"])
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])
        if self.disc is not None:
            self.disc.load_state_dict(state["disc"])
            self.disc_opt.load_state_dict(state["disc_opt"])

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
        top = t_max(epoch, p.curriculum_sigma, p.curriculum_alpha, p.curriculum_offset, T)
        top = top if p.curriculum else T
        priority = p.curriculum and epoch < p.priority_until
        t = sample_timesteps(g, len(idx), top, priority)
        return x0, noise, t

    def train_step(self, epoch: int, step: int) -> float:
        """One optimisation step on this rank's share of the global batch; returns its loss."""
        x0, noise, t = self.batch(epoch, step)
        share = self.dist.shard(len(x0))
        x0, noise, t = (v[share].to(self.device) for v in (x0, noise, t))
        x_t = self.diffusion.q_sample(x0, noise, t)
        with autocast(self.device):
            eps = self.model(x_t, t).float()
        loss = self.diffusion.loss(eps, noise)
        d_loss = None
        if self.disc is not None:
            fake = self.diffusion.posterior_mean(x_t, eps, t)
            real = self.diffusion.posterior_mean(x_t, noise, t)
            with autocast(self.device):
                d_loss, g_adv = discriminator_losses(
                    self.disc_model, real, fake, (t - 1).clamp(min=0)
                )
            loss = loss + self.p.adv_weight * g_adv.float()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if d_loss is not None:
            self.disc_opt.zero_grad(set_to_none=True)
            d_loss.float().backward()
            self.disc_opt.step()
        self.opt.step()
        if self.ema is not None:
            self.ema.update_parameters(self.net)
        return loss.item()

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
                    eps = model(self.diffusion.q_sample(x0, noise, t), t).float()
                total += self.diffusion.loss(eps, noise).item() * len(x0)
        model.train()
        return total / (len(grid) * len(self.val))

    @torch.no_grad()
    def generate(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """n pairs from the deployed weights with the cheap JSD sampler (fixed seed)."""
        model = self.deployed.eval()
        g = torch_generator(self.seed, "jsd")
        images, masks = [], []
        size = self.train.shape[1]
        for start in range(0, n, self.p.batch_size):
            count = min(self.p.batch_size, n - start)
            with autocast(self.device):
                x = sample(
                    model,
                    (count, 4, size, size),
                    self.p.jsd_sampler,
                    self.p.jsd_steps,
                    g,
                    device=self.device,
                )
            img, mask = to_uint8(x.float().cpu())
            images.append(img)
            masks.append(mask)
        model.train()
        return np.concatenate(images), np.concatenate(masks)

    def keep(self, folder: Path) -> None:
        save_generator(self.deployed, self.config, folder)

    def run(self, paths: GenPaths) -> None:
        """Train for p.epochs epochs (resuming a matching checkpoint) and write the kept weights."""
        p, dist = self.p, self.dist
        staged = paths.checkpoint / "kept"
        state = load_checkpoint(paths.checkpoint / "state.pt", self.fingerprint)
        if state is not None:
            self.load_state(state)
            log.info("resuming train_gen from epoch %d", self.epoch)
        elif dist.main:
            shutil.rmtree(paths.checkpoint, ignore_errors=True)
        dist.barrier()
        live = None
        if dist.main:
            resume = {"resume": state is not None, "save_dvc_exp": False}
            live = Live(str(paths.live), dvcyaml=False, **resume)
            if state is not None:
                trim_live_history(paths.live, self.epoch)
                live.step = self.epoch
        reference = self.train[..., :3]
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
                self.log_epoch(live, epoch, train_loss, reference, staged, paths.live)
            if dist.main and (self.epoch % p.checkpoint_every == 0 or self.epoch == p.epochs):
                save_checkpoint(paths.checkpoint / "state.pt", self.state())
            dist.barrier()
        if dist.main:
            with atomic_dir(paths.models) as out:
                self.keep(out / "final")
                for name in ("best_val", "min_jsd"):
                    shutil.copytree(staged / name, out / name)
            live.end()
            shutil.rmtree(paths.checkpoint, ignore_errors=True)
        dist.barrier()

    def log_epoch(
        self,
        live: Live,
        epoch: int,
        train_loss: float,
        reference: np.ndarray,
        staged: Path,
        live_dir: Path,
    ) -> None:
        """Per-epoch metrics; every eval_every epochs JSD, a sample grid and the min-JSD weights."""
        p = self.p
        top = t_max(epoch, p.curriculum_sigma, p.curriculum_alpha, p.curriculum_offset, T)
        live.log_metric("train/loss", train_loss)
        live.log_metric("lr", self.opt.param_groups[0]["lr"])
        live.log_metric("t_max", top if p.curriculum else T)
        val = self.val_loss()
        live.log_metric("val/loss", val)
        if val < self.best_val:
            self.best_val = val
            self.keep(staged / "best_val")
        if self.epoch % p.eval_every == 0 or self.epoch == p.epochs:
            images, masks = self.generate(p.jsd_samples)
            jsd = mean_rgb_jsd(reference, images)
            live.log_metric("jsd", jsd)
            if jsd < self.min_jsd:
                self.min_jsd = jsd
                self.keep(staged / "min_jsd")
            pair_grid(
                live_dir / "samples" / f"epoch_{self.epoch:04d}.png",
                list(images[:8]),
                list(masks[:8]),
                suptitle=f"generated pairs, epoch {self.epoch}",
            )
            log.info("epoch %d: train %.4f val %.4f jsd %.4f", self.epoch, train_loss, val, jsd)
        live.next_step()
