"""Segmentation models (smp U-Net, no downloaded weights): build, load, fit, predict."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import segmentation_models_pytorch as smp
import torch
import torch.nn.functional as F
from tqdm import tqdm

from pipeline.checkpoints import load_model, read_config
from pipeline.errors import DataError
from pipeline.geometry import centre_crops
from pipeline.metrics import PixelCounts
from pipeline.params import SegFitParams, SegTrainParams
from pipeline.seg.checkpoint import SegCheckpoint
from pipeline.training import Dist, autocast, check_finite, default_device, on_device

if TYPE_CHECKING:
    from dvclive import Live

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class SegModelConfig:
    """What it takes to rebuild a saved segmentation model, and the input it was trained on:
    `size`-pixel crops at `scale` input pixels per frame pixel (the labeler sees frames as they
    are, 1.0; a model trained on generated pairs sees them at sr_size / crop)."""

    encoder: str
    encoder_depth: int
    decoder_channels: list[int]
    size: int = 128
    scale: float = 1.0

    @classmethod
    def from_params(cls, p: SegTrainParams, scale: float = 1.0) -> SegModelConfig:
        return cls(p.encoder, p.encoder_depth, list(p.decoder_channels), p.size, scale)


def build_unet(config: SegModelConfig) -> smp.Unet:
    """A one-class smp U-Net with a randomly initialised encoder (no weights are downloaded)."""
    return smp.Unet(
        config.encoder,
        encoder_weights=None,
        encoder_depth=config.encoder_depth,
        decoder_channels=tuple(config.decoder_channels),
        classes=1,
    )


def load_unet(folder: Path) -> tuple[smp.Unet, SegModelConfig]:
    """A segmentation model saved by `checkpoints.save_model`, and its config."""
    config = SegModelConfig(**read_config(folder, "segmentation model"))
    model = load_model(folder, lambda c: build_unet(SegModelConfig(**c)), "segmentation model")
    return model, config


def to_input(images: np.ndarray) -> torch.Tensor:
    """uint8 N×H×W×3 → float N×3×H×W normalised with the ImageNet statistics."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255.0
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


IGNORE = 2  # a training mask value that neither loss term counts (an uncertain pseudo-label)


def seg_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Dice + BCE on logits and 0/1 float targets; pixels whose target is IGNORE count in neither
    term (BCE is then the mean over the other pixels)."""
    dice = smp.losses.DiceLoss(mode="binary", from_logits=True, ignore_index=IGNORE)(logits, target)
    valid = target != IGNORE
    if bool(valid.all()):
        return dice + F.binary_cross_entropy_with_logits(logits, target)
    bce = F.binary_cross_entropy_with_logits(logits, target * valid, reduction="none")
    return dice + (bce * valid).sum() / valid.sum().clamp(min=1)


def random_crops(
    rng: np.random.Generator, images: np.ndarray, masks: np.ndarray, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """One random size×size crop per pair, with random horizontal and vertical flips (masks keep
    their dtype: bool, or uint8 with IGNORE pixels)."""
    n, height, width = masks.shape
    out_img = np.empty((n, size, size, 3), np.uint8)
    out_mask = np.empty((n, size, size), masks.dtype)
    for i in range(n):
        y, x = rng.integers(0, height - size + 1), rng.integers(0, width - size + 1)
        img, mask = images[i, y : y + size, x : x + size], masks[i, y : y + size, x : x + size]
        if rng.random() < 0.5:
            img, mask = img[:, ::-1], mask[:, ::-1]
        if rng.random() < 0.5:
            img, mask = img[::-1], mask[::-1]
        out_img[i], out_mask[i] = img, mask
    return out_img, out_mask


def split_pairs(
    images: np.ndarray, masks: np.ndarray, val_fraction: float, rng: np.random.Generator
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray] | None]:
    """A seeded train/validation split of a paired set (validation None when the share is 0)."""
    order = rng.permutation(len(images))
    n_val = round(val_fraction * len(images))
    val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
    val = (images[val_idx], masks[val_idx]) if n_val else None
    return (images[train_idx], masks[train_idx]), val


def make_optimizer(model: torch.nn.Module, p: SegFitParams) -> torch.optim.Optimizer:
    """Adam or SGD (with momentum) at the params' learning rate."""
    if p.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=p.lr, momentum=p.momentum)
    return torch.optim.Adam(model.parameters(), lr=p.lr)


FLIPS = ((), (3,), (2,), (2, 3))  # the image axes (N×C×H×W) flipped: none, h, v, both


@torch.no_grad()
def predict_probs(
    model: torch.nn.Module, images: np.ndarray, batch_size: int, flips: bool = False
) -> np.ndarray:
    """Sigmoid probabilities (float32 N×H×W) for uint8 N×H×W×3 images of any size (padded);
    with `flips`, the mean of the probabilities of the image and its three flips."""
    model.eval()
    device = next(model.parameters()).device
    n, height, width = images.shape[:3]
    step = 2 ** len(model.encoder.out_channels[1:])
    pad_h, pad_w = -height % step, -width % step
    out = np.empty((n, height, width), np.float32)
    for start in range(0, n, batch_size):
        x = to_input(images[start : start + batch_size]).to(device)
        x = F.pad(x, (0, pad_w, 0, pad_h), mode="reflect")
        probs = torch.zeros_like(x[:, 0])
        for axes in FLIPS if flips else FLIPS[:1]:
            with autocast(device):
                logits = model(x.flip(axes) if axes else x)
            logits = logits.float()[:, 0]
            probs += torch.sigmoid(logits.flip([a - 1 for a in axes]) if axes else logits)
        probs /= len(FLIPS) if flips else 1
        out[start : start + batch_size] = probs[:, :height, :width].cpu().numpy()
    return out


def predict_list(
    model: torch.nn.Module, images: list[np.ndarray], batch_size: int, flips: bool = False
) -> list[np.ndarray]:
    """Probabilities for images that may differ in size: batched over runs of equal shape
    (`flips`: averaged over the image's flips, as predict_probs)."""
    out: list[np.ndarray] = []
    start = 0
    while start < len(images):
        end = start + 1
        while (
            end < len(images)
            and end - start < batch_size
            and (images[end].shape == images[start].shape)
        ):
            end += 1
        out.extend(predict_probs(model, np.stack(images[start:end]), batch_size, flips))
        start = end
    return out


def evaluate(
    model: torch.nn.Module, images: np.ndarray, masks: np.ndarray, batch_size: int
) -> tuple[float, PixelCounts]:
    """Mean Dice+BCE loss and pooled pixel counts on fixed pairs."""
    model.eval()
    device = next(model.parameters()).device
    counts, losses = PixelCounts(), []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            x = to_input(images[start : start + batch_size]).to(device)
            y = torch.from_numpy(masks[start : start + batch_size, None].astype(np.float32))
            with autocast(device):
                logits = model(x).float()
            losses.append(float(seg_loss(logits, y.to(device))) * len(x))
            counts.add(torch.sigmoid(logits).cpu(), y)
    return sum(losses) / len(images), counts


@dataclass(frozen=True)
class FitRun:
    """Where a fit runs: its seed, the dvclive logger (rank 0's; None on the other ranks or when
    nothing is logged), its processes (None: this one alone) and the resumable `checkpoint` with
    the fit's `phase` in it (None: not resumable)."""

    seed: int
    live: Live | None = None
    dist: Dist | None = None
    checkpoint: SegCheckpoint | None = None
    phase: int = 0


def fit(
    model: torch.nn.Module,
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray] | None,
    p: SegFitParams,
    run: FitRun,
) -> None:
    """Train on random crops of `train` (images uint8 N×H×W×3, masks bool N×H×W, or uint8 0/1
    with IGNORE where no loss counts) with Dice + BCE.

    Validation uses centre crops of `val`. Runs on CUDA when present (bf16 autocast). Logs
    train/val loss, val Dice and IoU per epoch to `run.live` (rank 0's; None on
    the other ranks). Under torchrun (`run.dist` of several processes) every rank draws the same
    global batch and crops and trains on its share through DistributedDataParallel (BatchNorm
    synchronised on CUDA); the last incomplete batch of an epoch is then dropped, and so is a last
    batch of a single pair in one process.

    With a `run.checkpoint`, this fit is phase `run.phase` of the stage: it is skipped when the
    checkpoint is past it, goes on after the checkpoint's epoch when it is in it, and saves its
    state after every epoch, so a killed run resumes exactly. A loss that is not finite stops it
    with TrainingDiverged before the step is taken (the last checkpoint stays the last good one).
    """
    seed, live, checkpoint, phase = run.seed, run.live, run.checkpoint, run.phase
    images, masks = train
    if min(masks.shape[1:]) < p.size:
        raise DataError(
            f"training images are {masks.shape[2]}x{masks.shape[1]}, smaller than size {p.size}"
        )
    dist = run.dist or Dist(0, 1, default_device())
    if p.batch_size % dist.world:
        raise DataError(f"batch size {p.batch_size} is not divisible by {dist.world} ranks")
    if checkpoint is not None and checkpoint.done(phase):
        return
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    device = dist.device
    if dist.world > 1 and device.type == "cuda":
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    optimizer = make_optimizer(model, p)
    start = 0 if checkpoint is None else checkpoint.resume(phase, model, optimizer, rng)
    model = on_device(model, device)
    net = dist.wrap(model, unused=True)
    if val is not None:
        val = centre_crops(val[0], p.size), centre_crops(val[1], p.size)
    steps = (
        math.ceil(len(images) / p.batch_size) if dist.world == 1 else len(images) // p.batch_size
    )
    if steps > 1 and len(images) % p.batch_size == 1:
        steps -= 1  # a last batch of one pair cannot train BatchNorm: drop it (another each epoch)
    for epoch in range(start, p.epochs):
        model.train()
        order = rng.permutation(len(images))
        total = 0.0
        desc = f"epoch {epoch + 1}/{p.epochs}"
        for b in tqdm(range(steps), desc=desc, leave=False, disable=not dist.main):
            idx = np.sort(order[b * p.batch_size : (b + 1) * p.batch_size])
            img, mask = random_crops(rng, images[idx], masks[idx], p.size)
            share = dist.shard(len(idx))
            x = to_input(img[share]).to(device)
            y = torch.from_numpy(mask[share, None].astype(np.float32)).to(device)
            optimizer.zero_grad(set_to_none=True)
            with autocast(device):
                logits = net(x)
            loss = seg_loss(logits.float(), y)
            value = dist.mean(loss.item())
            check_finite(value, epoch, b, checkpoint)
            loss.backward()
            optimizer.step()
            total += value * len(idx)
        seen = min(len(images), steps * p.batch_size)
        if dist.main:
            _log_epoch(model, live, epoch, total / seen, val, p.batch_size)
        if checkpoint is not None:
            step = live.step if live is not None else 0
            checkpoint.save(phase, epoch + 1, model, optimizer, rng, step)
        dist.barrier()


def _log_epoch(model, live, epoch: int, train_loss: float, val, batch_size: int) -> None:
    """Log an epoch's training loss and, with validation pairs, their loss, Dice and IoU."""
    live.log_metric("train/loss", train_loss)
    if val is not None:
        val_loss, counts = evaluate(model, val[0], val[1], batch_size)
        live.log_metric("val/loss", val_loss)
        live.log_metric("val/dice", counts.dice)
        live.log_metric("val/iou", counts.iou)
        log.info(
            "epoch %d: train %.4f val %.4f dice %.3f", epoch + 1, train_loss, val_loss, counts.dice
        )
    live.next_step()
