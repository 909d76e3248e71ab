"""Training of the diffusion super-resolver (stage train_sr): the shared diffusion loop with the
condition of `pipeline.gen.super_resolver`, and every eval_every epochs PSNR and mask Dice of
super-resolved held-out crops against plain upsampling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from dvclive import Live
from torch import Tensor

from pipeline.figures import rows_figure
from pipeline.gen import super_resolver
from pipeline.gen.diffusion import epsilon, to_model_space, to_uint8
from pipeline.gen.diffusion_training import DiffusionTraining
from pipeline.gen.nets.sr_unet import SRUNetConfig
from pipeline.gen.super_resolver import (
    degrade,
    super_resolve,
    training_condition,
    upsample_condition,
)
from pipeline.metrics import PixelCounts, psnr
from pipeline.params import SRParams
from pipeline.seeding import torch_generator
from pipeline.training import Dist


class SRTraining(DiffusionTraining):
    """One training run of the super-resolver, resumable by checkpoint; every eval_every epochs
    it super-resolves fixed degraded validation crops and scores them against the originals."""

    p: SRParams
    stage = "train_sr"
    kept = ("best_val",)

    def __init__(
        self, p: SRParams, seed: int, train: np.ndarray, val: np.ndarray, dist: Dist, factor: int
    ):
        self.factor = factor
        super().__init__(p, seed, train, val, dist)

    def net_config(self) -> SRUNetConfig:
        return super_resolver.config(self.p, self.train.shape[1], self.factor)

    def build(self, config: SRUNetConfig) -> torch.nn.Module:
        return super_resolver.build(config)

    def predict(self, model: torch.nn.Module, x_t: Tensor, t: Tensor, x0: Tensor) -> Tensor:
        out = model(x_t, t, training_condition(x0, self.factor))
        return epsilon(out, x_t, t, self.config.prediction)

    @torch.no_grad()
    def evaluate(self, live: Live, staged: Path) -> str:
        """PSNR and mask Dice of SR results and of plain upsampling against the held-out crops."""
        p = self.p
        hr = to_model_space(self.val[: p.eval_samples])
        lowres = degrade(hr, self.factor)
        model = self.deployed.eval()
        g = torch_generator(self.seed, "sr_eval")
        sr = super_resolve(
            model, lowres, self.factor, p.eval_sampler, p.eval_steps, g, device=self.device
        )
        model.train()
        truth_img, truth_mask = to_uint8(hr)
        up_img, up_mask = to_uint8(upsample_condition(lowres, tuple(hr.shape[-2:])))
        sr_img, sr_mask = to_uint8(sr)
        scores = {}
        for name, (img, mask) in {"sr": (sr_img, sr_mask), "upsampled": (up_img, up_mask)}.items():
            counts = PixelCounts()
            counts.add(torch.from_numpy(mask).float(), torch.from_numpy(truth_mask))
            scores[name] = (psnr(img, truth_img), counts.dice)
            live.log_metric(f"{name}/psnr", scores[name][0])
            live.log_metric(f"{name}/mask_dice", scores[name][1])
        shown = min(6, len(hr))
        grid = rows_figure(
            [
                ("upsampled", list(up_img[:shown])),
                ("SR image", list(sr_img[:shown])),
                ("truth", list(truth_img[:shown])),
                ("nearest mask", list(up_mask[:shown])),
                ("SR mask", list(sr_mask[:shown])),
                ("truth mask", list(truth_mask[:shown])),
            ],
            suptitle=f"super-resolution ×{self.factor} of held-out crops, epoch {self.epoch}",
        )
        live.log_image(f"samples/epoch_{self.epoch:04d}.png", grid)
        return "psnr sr {:.2f} / upsampled {:.2f} dB, mask dice {:.3f} / {:.3f}".format(
            scores["sr"][0], scores["upsampled"][0], scores["sr"][1], scores["upsampled"][1]
        )
