"""The diffusion process of the paired generator: the paper's schedule (T = 1000, linear β from
1e-4 to 0.02) on 4-channel RGB + mask tensors in [-1, 1], the reading of a network's output as ε
whether it outputs ε (the paper) or v (`epsilon`), the training-time helpers (forward noising, loss,
batched posterior step, timestep curriculum) and sampling with the schedulers of `diffusers`, x0
clipped to [-1, 1] throughout."""

from __future__ import annotations

import inspect

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import (
    DDIMScheduler,
    DDPMScheduler,
    DPMSolverMultistepScheduler,
    UniPCMultistepScheduler,
)
from torch import Tensor
from tqdm import tqdm

from pipeline.params import TIMESTEPS as T

SAMPLERS = ("ddpm", "ddim", "dpmsolver++", "unipc")
PREDICTIONS = ("epsilon", "v")

_SCHEDULE = {
    "num_train_timesteps": T,
    "beta_start": 1e-4,
    "beta_end": 0.02,
    "beta_schedule": "linear",
    "prediction_type": "epsilon",
}


def make_scheduler(sampler: str, eta: float = 0.0):
    """A diffusers scheduler with the training schedule and x0 clipped to [-1, 1].

    `eta` is DDIM's noise scale (0 deterministic, 1 DDPM-like) and must be 0 for the other
    samplers; `sample` passes it to each DDIM step. Unknown samplers or a misplaced eta raise
    ValueError.
    """
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r}; expected one of {SAMPLERS}")
    if sampler == "ddim":
        if not 0.0 <= eta <= 1.0:
            raise ValueError(f"ddim eta must lie in [0, 1], got {eta}")
    elif eta != 0.0:
        raise ValueError(f"eta applies to the ddim sampler only, got eta={eta} for {sampler!r}")
    if sampler == "ddpm":
        return DDPMScheduler(**_SCHEDULE, clip_sample=True, clip_sample_range=1.0)
    if sampler == "ddim":
        return DDIMScheduler(**_SCHEDULE, clip_sample=True, clip_sample_range=1.0)
    # Thresholding with sample_max_value = 1 is plain clamping of x0 to [-1, 1].
    if sampler == "unipc":
        return UniPCMultistepScheduler(
            **_SCHEDULE, solver_order=2, predict_x0=True, thresholding=True, sample_max_value=1.0
        )
    return DPMSolverMultistepScheduler(
        **_SCHEDULE,
        algorithm_type="dpmsolver++",
        solver_order=2,
        thresholding=True,
        sample_max_value=1.0,
    )


class Diffusion:
    """Forward process and training-time helpers on one schedule (ᾱ of a DDPMScheduler)."""

    def __init__(self, device: torch.device | str | None = None):
        scheduler = DDPMScheduler(**_SCHEDULE)
        self.alphas_cumprod: Tensor = scheduler.alphas_cumprod.to(
            device=device or "cpu", dtype=torch.float32
        )

    def _at(self, values: Tensor, t: Tensor, like: Tensor) -> Tensor:
        """values[t] shaped (B, 1, ..., 1) on like's device and dtype, to broadcast over a batch."""
        picked = values.to(like.device)[t.to(like.device)]
        return picked.to(like.dtype).view(-1, *([1] * (like.dim() - 1)))

    def q_sample(self, x0: Tensor, noise: Tensor, t: Tensor) -> Tensor:
        """x_t = sqrt(ᾱ_t) x0 + sqrt(1 - ᾱ_t) noise, one t per batch item."""
        ab = self._at(self.alphas_cumprod, t, x0)
        return ab.sqrt() * x0 + (1 - ab).sqrt() * noise

    def loss(
        self,
        eps_pred: Tensor,
        noise: Tensor,
        t: Tensor | None = None,
        prediction: str = "epsilon",
    ) -> Tensor:
        """Mean squared error over all image and mask channels, in the network's output space.

        An ε-network is scored on ε. A v-network (`prediction="v"`, see `epsilon`) is scored on
        v, whose error is the noise error over √ᾱ_t: each item's noise error is weighted by 1/ᾱ_t
        (its timesteps `t` are then needed).
        """
        if check_prediction(prediction) == "epsilon":
            return F.mse_loss(eps_pred, noise)
        if t is None:
            raise ValueError("the loss of a v-network needs the timesteps t")
        weight = 1 / self._at(self.alphas_cumprod, t, eps_pred).float()
        return (F.mse_loss(eps_pred.float(), noise.float(), reduction="none") * weight).mean()

    def predict_x0(self, x_t: Tensor, eps: Tensor, t: Tensor, clip: bool = True) -> Tensor:
        """x0 = (x_t - sqrt(1 - ᾱ_t) eps) / sqrt(ᾱ_t), optionally clamped to [-1, 1]."""
        ab = self._at(self.alphas_cumprod, t, x_t)
        x0 = (x_t - (1 - ab).sqrt() * eps) / ab.sqrt()
        return x0.clamp(-1, 1) if clip else x0

    def posterior_mean(self, x_t: Tensor, eps: Tensor, t: Tensor, clip: bool = True) -> Tensor:
        """Mean of q(x_{t-1} | x_t, x0_hat) per batch item, x0_hat from eps (clamped to [-1, 1]
        unless `clip` is False).

        The same coefficients as DDPMScheduler.step (with clip_sample=`clip`) and prev_t = t - 1
        (ᾱ_{-1} = 1), so t = 0 gives x0_hat itself. Training signals take `clip=False`: where the
        clamp is active it passes no gradient (at t = 900 most entries of x0_hat lie outside).
        """
        x0 = self.predict_x0(x_t, eps, t, clip=clip)
        ab_t = self._at(self.alphas_cumprod, t, x_t)
        ab_prev_all = torch.cat([self.alphas_cumprod.new_ones(1), self.alphas_cumprod[:-1]])
        ab_prev = self._at(ab_prev_all, t, x_t)
        alpha_t = ab_t / ab_prev
        beta_t = 1 - alpha_t
        x0_coeff = ab_prev.sqrt() * beta_t / (1 - ab_t)
        xt_coeff = alpha_t.sqrt() * (1 - ab_prev) / (1 - ab_t)
        return x0_coeff * x0 + xt_coeff * x_t


_ALPHAS_CUMPROD = DDPMScheduler(**_SCHEDULE).alphas_cumprod.float()
_SQRT_AB, _SQRT_ONE_MINUS_AB = _ALPHAS_CUMPROD.sqrt(), (1 - _ALPHAS_CUMPROD).sqrt()


def check_prediction(prediction: str) -> str:
    """`prediction` if it names a network output this process reads (`epsilon` or `v`)."""
    if prediction not in PREDICTIONS:
        raise ValueError(f"unknown prediction {prediction!r}; expected one of {PREDICTIONS}")
    return prediction


def epsilon(out: Tensor, x_t: Tensor, t: Tensor, prediction: str) -> Tensor:
    """A network's raw output `out` at x_t and steps t read as its noise prediction ε, for the
    samplers and losses.

    `epsilon`: the output is ε. `v` (Salimans & Ho 2022): the output is v = √ᾱ_t ε − √(1−ᾱ_t) x0,
    returned as ε = √ᾱ_t v + √(1−ᾱ_t) x_t in float32. Near t = T the estimate
    x0 = (x_t − √(1−ᾱ_t) ε) / √ᾱ_t magnifies an ε-network's error up to 160-fold (√ᾱ_T ≈ 0.006),
    and a short training run samples off colours; a v-network outputs −x0 itself there.
    """
    if check_prediction(prediction) == "epsilon":
        return out
    shape = (-1, *([1] * (out.dim() - 1)))
    t = t.to(out.device)
    return (
        _SQRT_AB.to(out.device)[t].view(shape) * out.float()
        + _SQRT_ONE_MINUS_AB.to(out.device)[t].view(shape) * x_t.float()
    )


def sample_timesteps(
    generator: torch.Generator,
    batch: int,
    t_max: int,
    priority: bool,
    device: torch.device | str | None = None,
) -> Tensor:
    """batch timesteps in [0, t_max): uniform, or with priority P(t) ∝ t + 1 (high t favoured).

    Drawn on the generator's device, then moved to `device`.
    """
    if not 1 <= t_max <= T:
        raise ValueError(f"t_max must lie in [1, {T}], got {t_max}")
    if priority:
        weights = torch.arange(1, t_max + 1, dtype=torch.float64, device=generator.device)
        t = torch.multinomial(weights, batch, replacement=True, generator=generator)
    else:
        t = torch.randint(0, t_max, (batch,), generator=generator, device=generator.device)
    return t.to(device=device or "cpu", dtype=torch.long)


def _model_device(model) -> torch.device:
    """The device of the model's first parameter (the CPU for a parameterless callable)."""
    try:
        return next(model.parameters()).device
    except (AttributeError, StopIteration):
        return torch.device("cpu")


def start_noise(
    shape: tuple[int, ...], generator: torch.Generator | list[torch.Generator]
) -> Tensor:
    """Standard normal noise of `shape` on the generator's device: from one generator, or item by
    item from a list of one generator per batch item (each item then depends on its own alone)."""
    if not isinstance(generator, list):
        return torch.randn(shape, generator=generator, device=generator.device)
    if len(generator) != shape[0]:
        raise ValueError(f"{len(generator)} generators for a batch of {shape[0]}")
    item = (1, *shape[1:])
    return torch.cat([torch.randn(item, generator=g, device=g.device) for g in generator])


@torch.no_grad()
def sample(
    model,
    shape: tuple[int, ...],
    sampler: str,
    steps: int,
    generator: torch.Generator | list[torch.Generator],
    eta: float = 0.0,
    device: torch.device | str | None = None,
    progress: bool = False,
    cond: Tensor | None = None,
    prediction: str = "epsilon",
) -> Tensor:
    """Generate x0 in [-1, 1] from pure noise with `steps` steps of a diffusers scheduler.

    `model(x, t)` — or `model(x, t, cond)` when a condition is given — maps x (B, C, H, W) and
    t LongTensor (B,) to its raw output of x's shape, read as ε by `epsilon(..., prediction)`;
    its train/eval mode is left to the caller. The start noise
    and every stochastic step draw from `generator` on its own device (a CPU generator gives the
    same start on CPU and GPU); with a list of one generator per item, each item's noise comes
    from its own generator, so an item can be regenerated alone.
    """
    if not 1 <= steps <= T:
        raise ValueError(f"steps must lie in [1, {T}], got {steps}")
    scheduler = make_scheduler(sampler, eta)
    device = torch.device(device) if device is not None else _model_device(model)
    scheduler.set_timesteps(steps, device=device)
    step_kwargs = {"eta": eta} if sampler == "ddim" else {}
    if "generator" in inspect.signature(scheduler.step).parameters:  # UniPC draws no noise
        step_kwargs["generator"] = generator
    extra = () if cond is None else (cond.to(device),)
    x = start_noise(shape, generator).to(device)
    for t in tqdm(scheduler.timesteps.tolist(), desc=sampler, disable=not progress):
        t_batch = torch.full((shape[0],), t, device=device, dtype=torch.long)
        eps = epsilon(model(x, t_batch, *extra), x, t_batch, prediction).to(x.dtype)
        x = scheduler.step(eps, t, x, **step_kwargs).prev_sample
    return x.clamp(-1, 1)


def to_model_space(batch_uint8_nhwc: np.ndarray | Tensor) -> Tensor:
    """uint8 N×H×W×4 (RGB + mask 0/255) -> float32 N×4×H×W in [-1, 1], mask exactly ±1.

    Mask values of 128 and above count as foreground.
    """
    if isinstance(batch_uint8_nhwc, np.ndarray):
        batch_uint8_nhwc = np.array(batch_uint8_nhwc)  # a private, writable copy (e.g. of a mmap)
    batch = torch.as_tensor(batch_uint8_nhwc)
    if batch.dtype != torch.uint8 or batch.dim() != 4 or batch.shape[-1] != 4:
        raise ValueError(f"expected uint8 N×H×W×4, got {batch.dtype} of shape {tuple(batch.shape)}")
    rgb = batch[..., :3].float() / 127.5 - 1
    mask = torch.where(batch[..., 3:] >= 128, 1.0, -1.0)
    return torch.cat([rgb, mask], dim=-1).permute(0, 3, 1, 2).contiguous()


def to_uint8(x: Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Model-space N×4×H×W -> uint8 images N×H×W×3 and bool masks N×H×W (mask channel > 0).

    Images are clipped to [-1, 1] and mapped linearly, without per-image stretching.
    """
    x = x.detach().float().cpu()
    rgb = ((x[:, :3].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    images = rgb.permute(0, 2, 3, 1).numpy()
    masks = (x[:, 3] > 0).numpy()
    return images, masks
