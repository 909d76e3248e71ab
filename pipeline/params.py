"""Typed params: one dataclass per params.yaml section, loaded and validated with clear errors."""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml

from pipeline import artifacts
from pipeline.errors import ParamsError

PARAMS_FILE = Path("params.yaml")
Sampler = Literal["ddpm", "ddim", "dpmsolver++", "unipc"]  # pipeline.gen.diffusion.SAMPLERS
TIMESTEPS = 1000  # T, the diffusion schedule's timesteps (pipeline.gen.diffusion.T)


def t_max(epoch: int, sigma: int, alpha: int, offset: int, T: int = TIMESTEPS) -> int:
    """Curriculum bound on the sampled timesteps: min(T, sigma * floor(epoch / alpha) + offset)."""
    if alpha < 1:
        raise ValueError(f"curriculum alpha must be >= 1 epoch, got {alpha}")
    return min(T, sigma * (epoch // alpha) + offset)


@dataclass(frozen=True)
class DataParams:
    """Where the raw input layout lives (the demo world, or the user's own folder)."""

    root: str = artifacts.DEMO.as_posix()
    """Raw input folder (videos, annotated frames, GWHD sets): the demo world or your own."""


@dataclass(frozen=True)
class DemoFieldParams:
    """Size and amount of the procedural wheat-field world."""

    size: int = 256
    """Side of the video frames and the annotated frames (px)."""
    canvas: int = 1024
    """Length of the field strip the camera pans along in each video (px)."""
    videos: int = 2
    """Field videos (with wheat heads) to render."""
    background_videos: int = 1
    """Background-only videos (no wheat heads) to render."""
    seconds: float = 3.0
    """Duration of each video (s)."""
    fps: int = 10
    """Frame rate of the videos (frames per second)."""
    crf: int = 20
    """H.264 constant rate factor of the videos (0-51; lower is higher quality)."""
    annotated: int = 3
    """Annotated frames (image and exact mask) to render, the copy-paste seed."""
    finetune_per_domain: int = 2
    """GWHD-style fine-tune images per domain (18 domains)."""
    test_per_domain: int = 3
    """GWHD-style test images per domain (18 domains)."""
    gwhd_size: int = 256
    """Side of the GWHD-style fine-tune and test images (px)."""

    def check(self, section: str) -> None:
        _positive(self, section, "size", "canvas", "seconds", "fps", "annotated", "gwhd_size")
        _non_negative(self, section, "videos", "background_videos", "finetune_per_domain")
        _non_negative(self, section, "test_per_domain")
        if self.canvas < self.size:
            raise ParamsError(f"{section}.canvas must be at least {section}.size")
        if not 0 <= self.crf <= 51:
            raise ParamsError(f"{section}.crf must be in [0, 51]")


@dataclass(frozen=True)
class ExtractFramesParams:
    """Frame sampling of the field videos: every k-th frame, or a target rate when fps > 0."""

    every: int = 2
    """Keep every k-th frame of the field videos when `fps` is 0, and of the background videos."""
    fps: float = 0.0
    """Resample each video to this frame rate (frames per second); 0 uses `every`."""
    size: int = 256
    """Shorter side of the extracted frames and stills (px); the pipeline's frame scale."""

    def check(self, section: str) -> None:
        _positive(self, section, "every", "size")
        _non_negative(self, section, "fps")


@dataclass(frozen=True)
class CopyPasteParams:
    """Najafian et al. copy-paste synthesis; a `colour_transfer` share of the pairs then takes the
    RGB means and spreads of a random extracted frame (the field's own colours)."""

    images: int = 160
    """Copy-paste pairs synthesized for training the labeler."""
    size: int = 256
    """Side of each synthesized square image (px)."""
    min_head_area: int = 20
    """Smallest annotated head cut out as a real head (px, at frame scale)."""
    real_min: int = 10
    """Fewest real heads pasted per image."""
    real_max: int = 100
    """Most real heads pasted per image."""
    fake_min: int = 10
    """Fewest distractors (head-shaped background texture) pasted per image."""
    fake_max: int = 100
    """Most distractors (head-shaped background texture) pasted per image."""
    rotation: float = 10.0
    """Largest rotation of a pasted head or distractor (degrees, ±)."""
    elastic: float = 2.0
    """Largest smooth elastic displacement of a pasted object (px); 0 turns it off."""
    scale_min: float = 0.8
    """Smallest scale factor of a pasted object."""
    scale_max: float = 1.2
    """Largest scale factor of a pasted object."""
    color_jitter: float = 0.15
    """Brightness, contrast and saturation factors drawn in 1 ± this, per image."""
    blur_max: float = 1.0
    """Largest Gaussian blur sigma applied to an image (px); 0 turns blur off."""
    noise_std: float = 4.0
    """Standard deviation of Gaussian pixel noise (0-255 units); 0 turns it off."""
    colour_transfer: float = 0.0
    """Share of images given the RGB means and spreads of a random extracted frame (0-1)."""

    def check(self, section: str) -> None:
        s = section
        if not 0 <= self.colour_transfer <= 1:
            raise ParamsError(f"{s}.colour_transfer must be in [0, 1]")
        _positive(self, s, "images", "size", "min_head_area", "scale_min", "scale_max")
        _non_negative(self, s, "real_min", "fake_min", "rotation", "elastic", "color_jitter")
        _non_negative(self, s, "blur_max", "noise_std")
        pairs = (("real_min", "real_max"), ("fake_min", "fake_max"), ("scale_min", "scale_max"))
        for lo, hi in pairs:
            if getattr(self, hi) < getattr(self, lo):
                raise ParamsError(f"{s}.{hi} must be at least {s}.{lo}")


@dataclass(frozen=True)
class SegFitParams:
    """How a segmentation U-Net is fitted: crops, epochs, batch and optimiser (with Dice + BCE)."""

    size: int = 128
    """Side of the random square training crops (px)."""
    epochs: int = 4
    """Training epochs."""
    batch_size: int = 8
    """Pairs per optimisation step (the global batch under torchrun)."""
    lr: float = 1.0e-3
    """Learning rate."""
    optimizer: Literal["adam", "sgd"] = "adam"
    """Optimiser: Adam or SGD with momentum."""
    momentum: float = 0.9
    """SGD momentum (unused with Adam)."""

    def check(self, section: str) -> None:
        _positive(self, section, "size", "epochs", "batch_size", "lr")
        if not 0 <= self.momentum < 1:
            raise ParamsError(f"{section}.momentum must be in [0, 1)")


@dataclass(frozen=True)
class SegTrainParams(SegFitParams):
    """An smp U-Net trained with Dice + BCE (the labeler; later the downstream models): the
    network, how it is fitted, and the share of pairs held out."""

    encoder: str = "resnet18"
    """smp encoder of the U-Net, randomly initialised (e.g. `mobilenet_v2`, `efficientnet-b4`)."""
    encoder_depth: int = 4
    """Encoder stages (each halves the resolution)."""
    decoder_channels: list[int] = field(default_factory=lambda: [64, 32, 16, 8])
    """Decoder channels per stage, one entry per encoder stage."""
    val_fraction: float = 0.1
    """Share of the pairs held out for validation (0: none)."""

    def check(self, section: str) -> None:
        super().check(section)
        _positive(self, section, "encoder_depth")
        if len(self.decoder_channels) != self.encoder_depth:
            raise ParamsError(f"{section}.decoder_channels needs {self.encoder_depth} entries")
        if self.size % (2**self.encoder_depth):
            raise ParamsError(f"{section}.size must be divisible by 2**encoder_depth")
        if not 0 <= self.val_fraction < 1:
            raise ParamsError(f"{section}.val_fraction must be in [0, 1)")


@dataclass(frozen=True)
class PseudoLabelParams:
    """Labelling every extracted frame: the labeler after `rounds` of Najafian self-training on
    the unlabelled frames (`epochs` each, the labeler's optimiser settings; 0 rounds: the labeler
    as it is; each round labels the frames at `threshold`), final masks at a threshold chosen by
    `threshold_rule`: `fixed` (`threshold`) or `annotated_fraction` (the masks cover, pooled over
    all frames, the share of pixels the hand-annotated masks cover). With `flips`, every label
    (each round's and the final ones) is made from the probabilities averaged over the frame and
    its three flips. In the rounds, pixels whose probability lies within `ignore_band` of the
    threshold are left out of the loss."""

    threshold: float = 0.5
    """Mask probability threshold of the rounds, and of the final labels under `fixed`."""
    batch_size: int = 8
    """Frames per prediction batch (also the coherence stage's batch)."""
    rounds: int = 0
    """Self-training rounds on the unlabelled frames before the final labels (0: none)."""
    epochs: int = 2
    """Training epochs per round (with the optimiser settings of `train_labeler`)."""
    threshold_rule: Literal["fixed", "annotated_fraction"] = "fixed"
    """Final labels: at `threshold`, or where they cover the annotated masks' pixel share."""
    flips: bool = False
    """Label from the mean probability of each frame and its three flips."""
    ignore_band: float = 0.0
    """Rounds: no loss on pixels whose probability lies within this of the threshold."""

    def check(self, section: str) -> None:
        _positive(self, section, "batch_size", "epochs")
        _non_negative(self, section, "rounds")
        if not 0 <= self.ignore_band < 0.5:
            raise ParamsError(f"{section}.ignore_band must be in [0, 0.5)")
        if not 0 < self.threshold < 1:
            raise ParamsError(f"{section}.threshold must be in (0, 1)")


@dataclass(frozen=True)
class PrepareParams:
    """Random crops of the pseudo-labelled frames, resized to the generator and SR sizes; the
    train/val split takes whole runs of `segment` consecutive frames of a video (stills alone)."""

    crop: int = 128
    """Side of the random square crops cut from each pseudo-labelled frame (px)."""
    crops_per_frame: int = 8
    """Random crops per frame."""
    gen_size: int = 32
    """Side the crops are resized to for the generator (px)."""
    sr_size: int = 64
    """Side the crops are resized to for the super-resolver, the generated pairs' size (px)."""
    val_fraction: float = 0.2
    """Share of the frames in the validation split."""
    segment: int = 8
    """Consecutive frames of a video that go to the same side of the split."""

    def check(self, section: str) -> None:
        _positive(self, section, "crop", "crops_per_frame", "gen_size", "sr_size", "segment")
        if self.sr_size < self.gen_size:
            raise ParamsError(f"{section}.sr_size must be at least {section}.gen_size")
        if not 0 < self.val_fraction < 1:
            raise ParamsError(f"{section}.val_fraction must be in (0, 1)")


@dataclass(frozen=True)
class DiffusionTrainParams:
    """A diffusion network's size and its training: what the generator and the super-resolver
    share (each section sets its own values; the defaults are the generator's)."""

    widths: list[int] = field(default_factory=lambda: [32, 64, 128])
    """Channels of each U-Net resolution level (multiples of 8 and of `heads`)."""
    layers_per_level: int = 2
    """Residual blocks per U-Net level."""
    heads: int = 4
    """Attention heads at the bottleneck."""
    time_dim: int = 128
    """Size of the timestep embedding."""
    epochs: int = 60
    """Training epochs."""
    batch_size: int = 32
    """Crops per optimisation step (the global batch, split over torchrun processes)."""
    lr: float = 2.1e-4
    """Adam learning rate."""
    prediction: Literal["epsilon", "v"] = "epsilon"
    """What the network outputs: the noise `epsilon` or the velocity `v`."""
    flips: bool = True
    """Random horizontal and vertical flips of the training crops."""
    ema_decay: float = 0.999
    """Decay of the weights' exponential moving average, per step (0 turns EMA off)."""
    eval_every: int = 10
    """Epochs between scores of generated samples and a sample grid."""
    val_timesteps: int = 10
    """Timesteps on the fixed grid of the deterministic validation loss."""
    checkpoint_every: int = 5
    """Epochs between resumable checkpoints."""

    def check(self, section: str) -> None:
        _positive(self, section, "layers_per_level", "heads", "time_dim", "epochs", "batch_size")
        _positive(self, section, "lr", "eval_every", "val_timesteps", "checkpoint_every")
        _check_widths(self, section, self.heads)


@dataclass(frozen=True)
class GenParams(DiffusionTrainParams):
    """The paired diffusion generator: architecture, optional discriminator, training (`lr` is
    the discriminator's too; `eval_every`: epochs between JSD scores, sample grids and min-JSD
    weight updates)."""

    arch: Literal["concat", "shared_encoder", "two_encoder"] = "concat"
    """Network: one U-Net on image + mask, or two branches sharing or owning an encoder."""
    skip: Literal["scaleu", "zeroconv", "concat"] = "scaleu"
    """Skip-feature join: ScaleU scales, zero-initialised 1×1 convs, or plain concatenation."""
    discriminator: bool = False
    """Train with a time-conditioned discriminator on the t−1 posterior means."""
    disc_widths: list[int] = field(default_factory=lambda: [32, 64, 128])
    """Channels of each discriminator level (stride 2 between levels)."""
    adv_weight: float = 0.25
    """Weight of the adversarial loss added to the generator's diffusion loss."""
    curriculum: bool | Literal["auto"] = "auto"
    """t_max schedule: `auto` (on with the discriminator), `true` or `false`."""
    curriculum_sigma: int = 10
    """Curriculum σ: t_max = min(T, σ·⌊epoch/α⌋ + offset) (timesteps)."""
    curriculum_alpha: int = 5
    """Curriculum α: epochs between t_max increases."""
    curriculum_offset: int = 10
    """Curriculum offset: t_max at epoch 0 (timesteps)."""
    priority_until: int = 500
    """With the curriculum: timesteps drawn with P(t) ∝ t + 1 until this epoch."""
    jsd_samples: int = 64
    """Pairs generated for each JSD score (mean RGB Jensen–Shannon divergence to the crops)."""
    jsd_sampler: Sampler = "ddim"
    """Sampler of the JSD pairs."""
    jsd_steps: int = 25
    """Sampler steps of the JSD pairs."""

    def check(self, section: str) -> None:
        super().check(section)
        _positive(self, section, "jsd_samples", "jsd_steps")
        _positive(self, section, "curriculum_sigma", "curriculum_alpha", "curriculum_offset")
        _non_negative(self, section, "adv_weight", "priority_until")
        if not self.disc_widths or min(self.disc_widths) <= 0:
            raise ParamsError(f"{section}.disc_widths must be a non-empty list of positive widths")
        last = self.epochs - 1
        top = t_max(last, self.curriculum_sigma, self.curriculum_alpha, self.curriculum_offset)
        if self.uses_curriculum and top < TIMESTEPS:
            raise ParamsError(
                f"{section}: the t_max schedule reaches only t_max = {top} of T = {TIMESTEPS} by"
                f" the last of {self.epochs} epochs, so the generator never learns to denoise from"
                f" pure noise; raise {section}.curriculum_sigma or lower"
                f" {section}.curriculum_alpha (paper: T at epoch 495 of 1500), or set"
                f" {section}.curriculum: false"
            )

    @property
    def uses_curriculum(self) -> bool:
        """Whether the t_max curriculum runs: `auto` follows the discriminator (paper Fig. 7: a
        discriminator without it fails); true or false force it either way."""
        return self.discriminator if self.curriculum == "auto" else self.curriculum


@dataclass(frozen=True)
class SRParams(DiffusionTrainParams):
    """The diffusion super-resolver: a smaller network than the generator's by default, and its
    training (`eval_every`: epochs between SR scores, PSNR and mask Dice of held-out crops)."""

    widths: list[int] = field(default_factory=lambda: [16, 32, 64])
    layers_per_level: int = 1
    time_dim: int = 64
    epochs: int = 40
    batch_size: int = 16
    lr: float = 1.0e-3
    ema_decay: float = 0.995
    val_timesteps: int = 5
    eval_samples: int = 16
    """Held-out crops super-resolved for each SR score."""
    eval_sampler: Sampler = "ddim"
    """Sampler of the SR scores."""
    eval_steps: int = 20
    """Sampler steps of the SR scores."""

    def check(self, section: str) -> None:
        super().check(section)
        _positive(self, section, "eval_samples", "eval_steps")


@dataclass(frozen=True)
class SelectGenParams:
    """Which kept generator weights go downstream, and the sampler of their sample figure."""

    weights: Literal["final", "best_val", "min_jsd"] = "min_jsd"
    """Generator weights used downstream: `final`, `best_val` (lowest val loss), `min_jsd`."""
    sampler: Sampler = "ddim"
    """Sampler of the sample figure reports/gen_samples.png."""
    steps: int = 25
    """Sampler steps of the sample figure."""

    def check(self, section: str) -> None:
        _check_sampler(section, self.sampler, self.steps, 0.0)


@dataclass(frozen=True)
class GenerateParams:
    """Dataset generation: n pairs (set `pair_set`: pairs pair_set·n … pair_set·n + n - 1, each
    seeded by its index), the generator's sampler, then the super-resolver's (of the kept SR
    weights `sr_weights`)."""

    n: int = 160
    """Pairs to generate."""
    pair_set: int = 0
    """Which n pairs: indices pair_set·n … pair_set·n + n − 1, each seeded by its index."""
    batch_size: int = 32
    """Pairs per sampling batch (a killed run resumes batch by batch)."""
    sampler: Sampler = "ddpm"
    """Sampler of the generator."""
    steps: int = 1000
    """Sampler steps of the generator (at most T = 1000)."""
    eta: float = 0.0
    """DDIM noise scale of the generator's sampler (0 deterministic, 1 DDPM-like; ddim only)."""
    sr_weights: Literal["final", "best_val"] = "final"
    """Super-resolver weights used: `final` (last epoch) or `best_val` (lowest val loss)."""
    sr_sampler: Sampler = "ddim"
    """Sampler of the super-resolver."""
    sr_steps: int = 100
    """Sampler steps of the super-resolver (at most T = 1000)."""
    sr_eta: float = 0.0
    """DDIM noise scale of the super-resolver's sampler (0 deterministic, 1 DDPM-like)."""

    def check(self, section: str) -> None:
        _positive(self, section, "n", "batch_size")
        if self.pair_set < 0:
            raise ParamsError(f"{section}.pair_set must not be negative, got {self.pair_set}")
        _check_sampler(section, self.sampler, self.steps, self.eta)
        _check_sampler(section, self.sr_sampler, self.sr_steps, self.sr_eta, prefix="sr_")


@dataclass(frozen=True)
class AgreeParams:
    """Which generated pairs the downstream U-Net trains on: those whose teacher Dice reaches the
    `quantile` quantile of the training crops' (0 keeps every pair)."""

    quantile: float = 0.0
    """Keep pairs whose teacher Dice reaches this quantile of the crops' (0 keeps all)."""
    batch_size: int = 16
    """Images per teacher prediction batch."""

    def check(self, section: str) -> None:
        _positive(self, section, "batch_size")
        if not 0 <= self.quantile < 1:
            raise ParamsError(f"{section}.quantile must be in [0, 1)")


@dataclass(frozen=True)
class FinetuneParams:
    """Fine-tuning a segmentation model: on the GWHD fine-tune set, and Najafian's self-training
    rounds on pseudo-labelled frames (steps 2-4) before it."""

    epochs: int = 10
    """Training epochs on the GWHD fine-tune set."""
    rounds: int = 2
    """Self-training rounds on the extracted frames before the GWHD fine-tune (finetune_all)."""
    frame_epochs: int = 2
    """Training epochs per self-training round."""
    threshold: float = 0.5
    """Mask probability threshold of the self-training rounds' labels."""
    batch_size: int = 8
    """Pairs per optimisation step (global batch), and frames per labelling batch."""
    lr: float = 0.01
    """Learning rate."""
    optimizer: Literal["adam", "sgd"] = "sgd"
    """Optimiser: Adam or SGD with momentum."""
    momentum: float = 0.9
    """SGD momentum (unused with Adam)."""

    def check(self, section: str) -> None:
        _positive(self, section, "epochs", "frame_epochs", "batch_size", "lr")
        _non_negative(self, section, "rounds")
        if not 0 < self.threshold < 1:
            raise ParamsError(f"{section}.threshold must be in (0, 1)")
        if not 0 <= self.momentum < 1:
            raise ParamsError(f"{section}.momentum must be in [0, 1)")

    def fit_params(self, size: int, epochs: int) -> SegFitParams:
        """The fit settings of one fine-tuning pass on `size`-pixel crops."""
        return SegFitParams(size, epochs, self.batch_size, self.lr, self.optimizer, self.momentum)


@dataclass(frozen=True)
class EvaluateParams:
    """Scoring every model on the GWHD test crops."""

    threshold: float = 0.5
    """Mask probability threshold of the scored predictions."""
    batch_size: int = 16
    """Test crops per prediction batch."""

    def check(self, section: str) -> None:
        _positive(self, section, "batch_size")
        if not 0 < self.threshold < 1:
            raise ParamsError(f"{section}.threshold must be in (0, 1)")


@dataclass(frozen=True)
class DistParams:
    """How many processes the trainers run under torchrun (one per GPU)."""

    nproc: int = 1
    """Processes per node of the stages launched through torchrun (one per GPU); 1 runs in place."""
    nnodes: int = 1
    """Nodes those stages span (c10d rendezvous at PET_RDZV_ENDPOINT or MASTER_ADDR)."""

    def check(self, section: str) -> None:
        _positive(self, section, "nproc")
        _positive(self, section, "nnodes")


@dataclass(frozen=True)
class Params:
    """The whole params.yaml."""

    seed: int = 0
    """Seed of every random draw in every stage."""
    data: DataParams = field(default_factory=DataParams)
    """The raw input folder."""
    demo_field: DemoFieldParams = field(default_factory=DemoFieldParams)
    """The procedural demo world (stage demo_field)."""
    extract_frames: ExtractFramesParams = field(default_factory=ExtractFramesParams)
    """Frames from the field videos (stage extract_frames)."""
    copy_paste: CopyPasteParams = field(default_factory=CopyPasteParams)
    """Copy-paste synthesis (stage copy_paste)."""
    train_labeler: SegTrainParams = field(default_factory=SegTrainParams)
    """The labeler, trained on copy-paste pairs (stage train_labeler)."""
    pseudo_label: PseudoLabelParams = field(default_factory=PseudoLabelParams)
    """Pseudo-labels of the extracted frames (stage pseudo_label)."""
    prepare: PrepareParams = field(default_factory=PrepareParams)
    """Training crops of the pseudo-labelled frames (stage prepare)."""
    gen: GenParams = field(default_factory=GenParams)
    """The paired diffusion generator (stage train_gen)."""
    select_gen: SelectGenParams = field(default_factory=SelectGenParams)
    """The generator weights used downstream (stage select_gen)."""
    sr: SRParams = field(default_factory=SRParams)
    """The diffusion super-resolver (stage train_sr)."""
    generate: GenerateParams = field(default_factory=GenerateParams)
    """The synthetic dataset (stage generate)."""
    agree: AgreeParams = field(default_factory=AgreeParams)
    """Teacher agreement filter of the generated pairs (stage agree)."""
    train_seg: SegTrainParams = field(default_factory=SegTrainParams)
    """The downstream U-Net, trained on sets of pairs (stages train_seg*)."""
    finetune: FinetuneParams = field(default_factory=FinetuneParams)
    """Fine-tuning of the segmentation models (stages finetune_*)."""
    evaluate: EvaluateParams = field(default_factory=EvaluateParams)
    """Scoring on the GWHD test crops (stages evaluate)."""
    dist: DistParams = field(default_factory=DistParams)
    """Multi-process training and generation under torchrun."""

    def check_across(self) -> None:
        """Checks that span sections (each section checks itself while loading)."""
        if self.prepare.crop > self.extract_frames.size:
            raise ParamsError(
                f"prepare.crop ({self.prepare.crop}) is larger than the frame size "
                f"extract_frames.size ({self.extract_frames.size})"
            )
        if self.copy_paste.size < self.train_labeler.size:
            raise ParamsError("train_labeler.size must not exceed copy_paste.size")
        if self.copy_paste.size > self.extract_frames.size:
            raise ParamsError("copy_paste.size must not exceed extract_frames.size")
        if self.prepare.crop > self.copy_paste.size:
            raise ParamsError(
                f"prepare.crop ({self.prepare.crop}) must not exceed copy_paste.size "
                f"({self.copy_paste.size}): the Copy-Paste row trains on crops of copy-paste frames"
            )
        levels = len(self.gen.widths)
        if self.prepare.gen_size % 2 ** (levels - 1):
            raise ParamsError(
                f"prepare.gen_size ({self.prepare.gen_size}) must be divisible by "
                f"2**(len(gen.widths) - 1) = {2 ** (levels - 1)}"
            )
        if self.train_seg.size > self.prepare.sr_size:
            raise ParamsError(
                f"train_seg.size ({self.train_seg.size}) must not exceed prepare.sr_size "
                f"({self.prepare.sr_size}), the size of the generated pairs"
            )
        if self.prepare.sr_size % self.prepare.gen_size:
            raise ParamsError(
                f"prepare.sr_size ({self.prepare.sr_size}) must be a multiple of "
                f"prepare.gen_size ({self.prepare.gen_size})"
            )
        levels = len(self.sr.widths)
        if self.prepare.sr_size % 2 ** (levels - 1):
            raise ParamsError(
                f"prepare.sr_size ({self.prepare.sr_size}) must be divisible by "
                f"2**(len(sr.widths) - 1) = {2 ** (levels - 1)}"
            )


T = TypeVar("T")


def _check_widths(obj: Any, section: str, heads: int) -> None:
    """U-Net widths (GroupNorm(8), attention heads) and the EMA decay of a diffusion section."""
    if not obj.widths or min(obj.widths) <= 0:
        raise ParamsError(f"{section}.widths must be a non-empty list of positive widths")
    if any(w % 8 for w in obj.widths):
        raise ParamsError(f"{section}.widths must be multiples of 8 (GroupNorm with 8 groups)")
    if any(w % heads for w in obj.widths):
        raise ParamsError(f"{section}.widths must be divisible by {section}.heads")
    if not 0 <= obj.ema_decay < 1:
        raise ParamsError(f"{section}.ema_decay must be in [0, 1) (0 turns EMA off)")


def _check_sampler(section: str, sampler: str, steps: int, eta: float, prefix: str = "") -> None:
    """steps within the schedule; eta in [0, 1] and only for DDIM (keys `<prefix>steps`, ...)."""
    key = f"{section}.{prefix}"
    if not 1 <= steps <= TIMESTEPS:
        raise ParamsError(
            f"{key}steps must be in [1, {TIMESTEPS}] (the training schedule's T), got {steps}"
        )
    if not 0 <= eta <= 1:
        raise ParamsError(f"{key}eta must be in [0, 1]")
    if eta and sampler != "ddim":
        raise ParamsError(f"{key}eta applies to the ddim sampler only")


def _positive(obj: Any, section: str, *names: str) -> None:
    for name in names:
        if getattr(obj, name) <= 0:
            raise ParamsError(f"{section}.{name} must be positive, got {getattr(obj, name)!r}")


def _non_negative(obj: Any, section: str, *names: str) -> None:
    for name in names:
        if getattr(obj, name) < 0:
            raise ParamsError(f"{section}.{name} must not be negative, got {getattr(obj, name)!r}")


def _convert(value: Any, tp: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return build(tp, value, key)
    if origin is Literal:
        if value not in typing.get_args(tp):
            choices = ", ".join(map(str, typing.get_args(tp)))
            raise ParamsError(f"{key} must be one of {choices}, got {value!r}")
        return value
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None and len(args) < len(typing.get_args(tp)):
            return None
        for arg in args:
            try:
                return _convert(value, arg, key)
            except ParamsError:
                continue
        raise ParamsError(f"{key} must be {' or '.join(map(_describe, args))}, got {value!r}")
    if origin is list:
        if not isinstance(value, list):
            raise ParamsError(f"{key} must be a list, got {value!r}")
        (item,) = typing.get_args(tp)
        return [_convert(v, item, f"{key}[{i}]") for i, v in enumerate(value)]
    if tp is bool:
        if not isinstance(value, bool):
            raise ParamsError(f"{key} must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamsError(f"{key} must be an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            hint = " (write 1.0e-4, not 1e-4)" if isinstance(value, str) else ""
            raise ParamsError(f"{key} must be a number, got {value!r}{hint}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ParamsError(f"{key} must be a string, got {value!r}")
        return value
    raise TypeError(f"unsupported params type {tp!r} for {key}")


def _describe(tp: Any) -> str:
    """A type as a user reads it in an error message."""
    if tp is bool:
        return "true or false"
    if typing.get_origin(tp) is Literal:
        return " or ".join(map(str, typing.get_args(tp)))
    return getattr(tp, "__name__", str(tp))


def build(cls: type[T], raw: Any, section: str) -> T:
    """Build dataclass `cls` from a mapping; unknown keys and wrong types name the key."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ParamsError(f"{section or 'params'} must be a mapping, got {raw!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in names:
            raise ParamsError(f"unknown params key: {section + '.' if section else ''}{key}")
    values = {
        k: _convert(v, hints[k], f"{section + '.' if section else ''}{k}") for k, v in raw.items()
    }
    obj = cls(**values)
    if section and hasattr(obj, "check"):
        obj.check(section)
    return obj


def load_params(path: Path = PARAMS_FILE) -> Params:
    """Load and validate params.yaml."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"params file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ParamsError(f"{path} is not valid YAML: {err}") from None
    params = build(Params, raw, "")
    params.check_across()
    return params
