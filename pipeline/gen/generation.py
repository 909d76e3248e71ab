"""Dataset generation (stage generate): pairs from noise with the generator, then the
super-resolver, each pair seeded on its own, written batch by batch so a killed run resumes.

Pair k draws all its noise from two generators seeded by (seed, "generate", k): one for the
generator's sampler and one for the super-resolver's, so any pair can be regenerated alone
(`make_pairs([k], ...)`). Batches are fixed runs of `batch_size` consecutive indices; a batch counts
as done when its manifest rows are on disk, which are written after its PNGs, and every file is
written under a temporary name and renamed, so a killed run never leaves a half-written pair that
a resumed one would keep.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from pipeline.checkpoints import trained_size
from pipeline.errors import DataError
from pipeline.files import atomic_dir, atomic_file, file_digest
from pipeline.gen import generator as gen
from pipeline.gen.diffusion import to_uint8
from pipeline.gen.super_resolver import super_resolve
from pipeline.geometry import mask_fraction
from pipeline.images import write_mask, write_rgb
from pipeline.params import GenerateParams
from pipeline.seeding import torch_generator
from pipeline.training import Dist, on_device, precision

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GenerationSpec:
    """What the pairs depend on besides the weights: counts, sizes and samplers."""

    seed: int
    n: int
    batch_size: int
    gen_size: int
    factor: int
    sampler: str
    steps: int
    eta: float
    sr_sampler: str
    sr_steps: int
    sr_eta: float
    pair_set: int = 0  # pairs pair_set·n … pair_set·n + n - 1

    @classmethod
    def from_params(
        cls, g: GenerateParams, seed: int, gen_size: int, factor: int, **overrides: Any
    ) -> GenerationSpec:
        """The spec that `generate.*` and `seed` describe for weights of these sizes; `overrides`
        replace fields (a benchmark's or a timing's count, batch and sampler)."""
        spec = cls(
            seed=seed,
            n=g.n,
            batch_size=g.batch_size,
            gen_size=gen_size,
            factor=factor,
            sampler=g.sampler,
            steps=g.steps,
            eta=g.eta,
            sr_sampler=g.sr_sampler,
            sr_steps=g.sr_steps,
            sr_eta=g.sr_eta,
            pair_set=g.pair_set,
        )
        return replace(spec, **overrides)


@dataclass
class Pairs:
    """A batch of generated pairs: low-resolution (generator) and final (super-resolved)."""

    lowres_images: np.ndarray
    lowres_masks: np.ndarray
    images: np.ndarray
    masks: np.ndarray


def chained_sizes(
    generator: torch.nn.Module, sr: torch.nn.Module, generator_dir: Path, sr_dir: Path
) -> tuple[int, int]:
    """(generator size, SR factor) read from the two loaded weights' configs; the super-resolver
    must have been trained to enlarge pairs of the generator's size."""
    size = trained_size(generator, generator_dir, "generator")
    sr_size = trained_size(sr, sr_dir, "super-resolver")
    factor = sr.config.factor
    if sr.config.input_size != size:
        raise DataError(
            f"{Path(sr_dir) / 'config.json'}: the super-resolver enlarges {sr.config.input_size}px "
            f"pairs ×{factor} to {sr_size}px, but the generator in {generator_dir} makes {size}px "
            "pairs; train both on the same prepared crops"
        )
    return size, factor


def pair_generators(seed: int, index: int) -> tuple[torch.Generator, torch.Generator]:
    """The two noise sources of pair `index`: the generator's sampler and the super-resolver's."""
    return (
        torch_generator(seed, "generate", index, "generator"),
        torch_generator(seed, "generate", index, "sr"),
    )


@torch.no_grad()
def make_pairs(
    indices: list[int],
    generator: torch.nn.Module,
    sr: torch.nn.Module,
    spec: GenerationSpec,
    device: torch.device,
) -> Pairs:
    """The pairs of `indices`, generated together; each depends on its own seeds alone."""
    gens, srs = zip(*(pair_generators(spec.seed, k) for k in indices), strict=True)
    lowres = gen.sample(
        generator,
        len(indices),
        spec.gen_size,
        spec.sampler,
        spec.steps,
        list(gens),
        spec.eta,
        device,
    )
    final = super_resolve(
        sr, lowres, spec.factor, spec.sr_sampler, spec.sr_steps, list(srs), spec.sr_eta, device
    )
    lowres_images, lowres_masks = to_uint8(lowres)
    images, masks = to_uint8(final)
    return Pairs(lowres_images, lowres_masks, images, masks)


def pair_id(index: int) -> str:
    """The id (file stem) of pair `index`."""
    return f"gen_{index:06d}"


class Generation:
    """Writes spec.n pairs into `out` (images/, masks/, lowres/, manifest.csv), resumably: the
    work lives in `staging` until every batch is done, guarded by a fingerprint of the spec and
    the weights, and is then moved into place whole."""

    def __init__(
        self,
        spec: GenerationSpec,
        generator: torch.nn.Module,
        sr: torch.nn.Module,
        weights: dict[str, Path],
        dist: Dist,
    ):
        self.spec, self.dist, self.device = spec, dist, dist.device
        self.generator = on_device(generator, self.device).eval()
        self.sr = on_device(sr, self.device).eval()
        self.digests = {name: file_digest(path) for name, path in weights.items()}
        # bf16 (CUDA) gives other pairs than float32 (a CPU): a set is finished as it began
        made_on = {"device": self.device.type, "precision": precision(self.device)}
        self.fingerprint = json.dumps({**asdict(spec), **self.digests, **made_on}, sort_keys=True)

    def batches(self) -> list[list[int]]:
        """The fixed runs of batch_size consecutive pair indices of the pair set."""
        n, size = self.spec.n, self.spec.batch_size
        first = self.spec.pair_set * n
        return [
            list(range(first + start, first + min(n, start + size))) for start in range(0, n, size)
        ]

    def open_staging(self, staging: Path) -> None:
        """Keep a staging folder made with the same fingerprint; start afresh otherwise."""
        stamp = staging / "fingerprint.json"
        if stamp.is_file() and stamp.read_text() == self.fingerprint:
            return
        shutil.rmtree(staging, ignore_errors=True)
        for sub in ("pairs/images", "pairs/masks", "pairs/lowres/images", "pairs/lowres/masks"):
            (staging / sub).mkdir(parents=True)
        (staging / "rows").mkdir()
        stamp.write_text(self.fingerprint)

    def write_batch(self, staging: Path, number: int, indices: list[int]) -> None:
        """Generate one batch and write its PNGs, then (last) its manifest rows."""
        spec, pairs = (
            self.spec,
            make_pairs(indices, self.generator, self.sr, self.spec, self.device),
        )
        root = staging / "pairs"
        rows = []
        for j, k in enumerate(indices):
            stem = pair_id(k)
            files = {
                "image": (write_rgb, pairs.images[j]),
                "mask": (write_mask, pairs.masks[j]),
                "lowres_image": (write_rgb, pairs.lowres_images[j]),
                "lowres_mask": (write_mask, pairs.lowres_masks[j]),
            }
            row = {"id": stem}
            for column, (write, array) in files.items():
                folder = ("lowres/" if column.startswith("lowres") else "") + (
                    "images" if column.endswith("image") else "masks"
                )
                row[column] = f"{folder}/{stem}.png"
                with atomic_file(root / row[column]) as tmp:
                    write(tmp, array)
            row.update(
                source="generated",
                index=k,
                seed=spec.seed,
                generator=self.digests["generator"][:16],
                sr=self.digests["sr"][:16],
                sampler=spec.sampler,
                steps=spec.steps,
                sr_sampler=spec.sr_sampler,
                sr_steps=spec.sr_steps,
                mask_fraction=round(mask_fraction(pairs.masks[j]), 6),
            )
            rows.append(row)
        with atomic_file(staging / "rows" / f"{number:06d}.csv") as tmp:
            pd.DataFrame(rows).to_csv(tmp, index=False)

    def run(self, out: Path, staging: Path) -> pd.DataFrame:
        """Generate the missing batches (with a progress bar) and move the set to `out`.

        Under torchrun each rank makes every world-th missing batch into the shared staging
        folder; rank 0 then assembles the manifest and moves the set into place. The batches and
        each pair's seeds do not depend on the number of processes, so neither do the files, and
        a killed run resumes with any number of them."""
        dist = self.dist
        if dist.main:
            self.open_staging(staging)
        dist.barrier()
        batches = self.batches()
        todo = [
            (b, idx)
            for b, idx in enumerate(batches)
            if not (staging / "rows" / f"{b:06d}.csv").is_file()
        ]
        done = self.spec.n - sum(len(idx) for _, idx in todo)
        if done and dist.main:
            log.info("resuming generation: %d of %d pairs already made", done, self.spec.n)
        bar = tqdm(
            total=self.spec.n, initial=done, desc="generate", unit="pair", disable=not dist.main
        )
        with bar:
            for number, indices in todo[dist.rank :: dist.world]:
                self.write_batch(staging, number, indices)
                bar.update(len(indices) * dist.world)
        dist.barrier()
        if dist.main:
            manifest = pd.concat(
                [pd.read_csv(staging / "rows" / f"{b:06d}.csv") for b in range(len(batches))],
                ignore_index=True,
            )
            with atomic_dir(out) as tmp:
                manifest.to_csv(staging / "pairs" / "manifest.csv", index=False)
                tmp.rmdir()
                shutil.move(staging / "pairs", tmp)
            shutil.rmtree(staging, ignore_errors=True)
        dist.barrier()
        return pd.read_csv(out / "manifest.csv")
