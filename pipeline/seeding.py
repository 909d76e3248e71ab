"""Seeded random generators: every random choice of a stage derives from the params seed."""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported on use: the stages that only crop or copy skip its 1.3 s
    import torch


def stage_rng(seed: int, *names: str | int) -> np.random.Generator:
    """A generator for one stage (and optionally one item of it), independent of the others."""
    keys = [zlib.crc32(n.encode()) if isinstance(n, str) else int(n) for n in names]
    return np.random.default_rng(np.random.SeedSequence([seed, *keys]))


def torch_generator(seed: int, *names: str | int) -> torch.Generator:
    """A CPU torch generator derived like stage_rng (the same on every rank of a DDP job)."""
    import torch

    return torch.Generator().manual_seed(int(stage_rng(seed, *names).integers(2**63)))
