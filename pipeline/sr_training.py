"""The diffusion super-resolver (DESIGN §4, paper Fig. 3): its training loop (stage train_sr) and
super-resolution of low-resolution pairs (stage generate).

The super-resolver learns from high-resolution crops degraded by the SR factor (sr_size /
gen_size): antialiased bilinear for the image, nearest for the mask. The condition is that
degraded pair brought back to the crop size (bilinear image, nearest mask).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from dvclive import Live
from torch import Tensor

from pipeline.diffusion import sample, to_model_space, to_uint8
from pipeline.diffusion_training import DiffusionTraining, load_net
from pipeline.figures import sr_grid
from pipeline.metrics import PixelCounts
from pipeline.nets.sr_unet import SRUNetConfig, build_sr, degrade, upsample_condition
from pipeline.params import SRParams
from pipeline.seeding import torch_generator
from pipeline.training import Dist, autocast


def sr_config(p: SRParams, sample_size: int | None = None, factor: int = 2) -> SRUNetConfig:
    """The super-resolver's network config from the sr params, enlarging by `factor` to pairs of
    `sample_size` pixels."""
    return SRUNetConfig(
        widths=tuple(p.widths),
        layers_per_level=p.layers_per_level,
        heads=p.heads,
        time_dim=p.time_dim,
        prediction=p.prediction,
        sample_size=sample_size,
        factor=factor,
    )


def load_sr(folder: Path) -> torch.nn.Module:
    """A super-resolver saved by train_sr, in eval mode on the CPU."""
    return load_net(folder, lambda c: build_sr(SRUNetConfig(**c)), "super-resolver")


def training_condition(hr: Tensor, factor: int) -> Tensor:
    """The condition of a high-resolution batch: degraded by `factor`, upsampled back."""
    return upsample_condition(degrade(hr, factor), tuple(hr.shape[-2:]))


def binarise_mask(pair: Tensor) -> Tensor:
    """The pair with its mask channel (the last) set to exactly ±1 (threshold 0)."""
    mask = torch.where(pair[:, -1:] > 0, 1.0, -1.0).to(pair.dtype)
    return torch.cat([pair[:, :-1], mask], dim=1)


def super_resolve(
    model: torch.nn.Module,
    lowres: Tensor,
    factor: int,
    sampler: str,
    steps: int,
    generator: torch.Generator | list[torch.Generator],
    eta: float = 0.0,
    device: torch.device | str | None = None,
) -> Tensor:
    """High-resolution pairs in [-1, 1] (B, 4, f·h, f·w) from low-resolution ones (B, 4, h, w)
    in model space; the low-resolution mask is thresholded at 0 first, as in training."""
    size = (lowres.shape[-2] * factor, lowres.shape[-1] * factor)
    cond = upsample_condition(binarise_mask(lowres.float()), size)
    with autocast(torch.device(device) if device is not None else lowres.device):
        x = sample(
            model,
            (len(lowres), lowres.shape[1], *size),
            sampler,
            steps,
            generator,
            eta,
            device=device,
            cond=cond,
        )
    return x.float()


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio (dB) of two uint8 image sets, pooled over all pixels."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


class SRTraining(DiffusionTraining):
    """One training run of the super-resolver, resumable by checkpoint; every eval_every epochs
    it super-resolves fixed degraded validation crops and scores them against the originals."""

    stage = "train_sr"
    kept = ("best_val",)

    def __init__(
        self, p: SRParams, seed: int, train: np.ndarray, val: np.ndarray, dist: Dist, factor: int
    ):
        self.factor = factor
        super().__init__(p, seed, train, val, dist)

    def net_config(self) -> SRUNetConfig:
        return sr_config(self.p, self.train.shape[1], self.factor)

    def build(self, config: SRUNetConfig) -> torch.nn.Module:
        return build_sr(config)

    def predict(self, model: torch.nn.Module, x_t: Tensor, t: Tensor, x0: Tensor) -> Tensor:
        return model(x_t, t, training_condition(x0, self.factor))

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
        sr_grid(
            Path(live.dir) / "samples" / f"epoch_{self.epoch:04d}.png",
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
        return "psnr sr {:.2f} / upsampled {:.2f} dB, mask dice {:.3f} / {:.3f}".format(
            scores["sr"][0], scores["upsampled"][0], scores["sr"][1], scores["upsampled"][1]
        )


def upsampled(images: np.ndarray, masks: np.ndarray, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images and boolean masks enlarged by `factor` as the super-resolver's condition is:
    bilinear for images, nearest for masks."""
    pair = np.concatenate([images, np.where(masks > 0, 255, 0).astype(np.uint8)[..., None]], -1)
    lowres = to_model_space(pair)
    size = (lowres.shape[-2] * factor, lowres.shape[-1] * factor)
    return to_uint8(upsample_condition(lowres, size))
