"""Training of the paired diffusion generator: the loop behind stage train_gen, with
the optional time-conditioned discriminator, the t_max curriculum and min-JSD weight selection."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from dvclive import Live

from pipeline.figures import pair_figure
from pipeline.gen import generator
from pipeline.gen.diffusion import T, sample_timesteps, to_uint8
from pipeline.gen.diffusion_training import DiffusionTraining
from pipeline.gen.nets.discriminator import (
    DiscriminatorConfig,
    TimeDiscriminator,
    discriminator_losses,
)
from pipeline.gen.nets.paired_unet import PairedUNetConfig
from pipeline.metrics import mean_rgb_jsd
from pipeline.params import GenParams, t_max
from pipeline.seeding import torch_generator
from pipeline.training import Dist, autocast, on_device


class GeneratorTraining(DiffusionTraining):
    """One training run of the generator (and optional discriminator), resumable by checkpoint."""

    p: GenParams
    stage = "train_gen"
    kept = ("best_val", "min_jsd")

    def __init__(self, p: GenParams, seed: int, train: np.ndarray, val: np.ndarray, dist: Dist):
        super().__init__(p, seed, train, val, dist)
        self.min_jsd = math.inf
        self.disc = self.disc_model = self.disc_opt = None
        if p.discriminator:
            disc = TimeDiscriminator(DiscriminatorConfig(widths=tuple(p.disc_widths)))
            self.disc = on_device(disc, self.device)
            self.disc_model = dist.wrap(self.disc)
            self.disc_opt = torch.optim.Adam(self.disc.parameters(), lr=p.lr)

    def net_config(self) -> PairedUNetConfig:
        return generator.config(self.p, self.train.shape[1])

    def build(self, config: PairedUNetConfig) -> torch.nn.Module:
        return generator.build(config)

    def state(self) -> dict:
        state = {**super().state(), "min_jsd": self.min_jsd}
        if self.disc is not None:
            state["disc"] = self.disc.state_dict()
            state["disc_opt"] = self.disc_opt.state_dict()
        return state

    def load_state(self, state: dict) -> None:
        super().load_state(state)
        self.min_jsd = state["min_jsd"]
        if self.disc is not None:
            self.disc.load_state_dict(state["disc"])
            self.disc_opt.load_state_dict(state["disc_opt"])

    def t_max(self, epoch: int) -> int:
        """The largest timestep trained in `epoch` (T without the curriculum)."""
        p = self.p
        top = t_max(epoch, p.curriculum_sigma, p.curriculum_alpha, p.curriculum_offset, T)
        return top if p.uses_curriculum else T

    def timesteps(self, generator: torch.Generator, epoch: int, batch: int) -> torch.Tensor:
        priority = self.p.uses_curriculum and epoch < self.p.priority_until
        return sample_timesteps(generator, batch, self.t_max(epoch), priority)

    def adversarial_losses(
        self, x_t: torch.Tensor, eps: torch.Tensor, noise: torch.Tensor, t: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(D's loss, G's adversarial loss) on the t-1 posterior means from the predicted ("fake")
        and the true ("real") noise. Unclipped: where a clamp of x0_hat is active, the generator
        would get no adversarial gradient (most entries at large t); sampling still clips."""
        fake = self.diffusion.posterior_mean(x_t, eps, t, clip=False)
        real = self.diffusion.posterior_mean(x_t, noise, t, clip=False)
        with autocast(self.device):
            return discriminator_losses(self.disc_model, real, fake, (t - 1).clamp(min=0))

    def train_step(self, epoch: int, step: int) -> float:
        """One step; with the discriminator, G's loss adds its adversarial term and D steps too."""
        if self.disc is None:
            return super().train_step(epoch, step)
        x0, noise, t, x_t = self.local_batch(epoch, step)
        with autocast(self.device):
            eps = self.predict(self.model, x_t, t, x0).float()
        d_loss, g_adv = self.adversarial_losses(x_t, eps, noise, t)
        loss = self.diffusion.loss(eps, noise, t, self.p.prediction)
        loss = loss + self.p.adv_weight * g_adv.float()
        self.check_finite(loss + d_loss.float(), epoch, step)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.disc_opt.zero_grad(set_to_none=True)
        d_loss.float().backward()
        self.disc_opt.step()
        self.opt.step()
        self.update_ema()
        return loss.item()

    @torch.no_grad()
    def generate(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """n pairs from the deployed weights with the cheap JSD sampler (fixed seed)."""
        model = self.deployed.eval()
        g = torch_generator(self.seed, "jsd")
        images, masks = [], []
        size = self.train.shape[1]
        for start in range(0, n, self.p.batch_size):
            count = min(self.p.batch_size, n - start)
            x = generator.sample(
                model, count, size, self.p.jsd_sampler, self.p.jsd_steps, g, device=self.device
            )
            img, mask = to_uint8(x.cpu())
            images.append(img)
            masks.append(mask)
        model.train()
        return np.concatenate(images), np.concatenate(masks)

    def log_epoch(self, live: Live, epoch: int, train_loss: float, staged: Path) -> None:
        live.log_metric("t_max", self.t_max(epoch))
        super().log_epoch(live, epoch, train_loss, staged)

    def evaluate(self, live: Live, staged: Path) -> str:
        """JSD of jsd_samples generated pairs to the training crops, min-JSD weights, a grid."""
        images, masks = self.generate(self.p.jsd_samples)
        jsd = mean_rgb_jsd(self.train[..., :3], images)
        live.log_metric("jsd", jsd)
        if jsd < self.min_jsd:
            self.min_jsd = jsd
            self.keep(staged / "min_jsd")
        grid = pair_figure(
            list(images[:8]), list(masks[:8]), suptitle=f"generated pairs, epoch {self.epoch}"
        )
        live.log_image(f"samples/epoch_{self.epoch:04d}.png", grid)
        return f"jsd {jsd:.4f}"
