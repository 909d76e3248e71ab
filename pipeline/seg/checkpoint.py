"""Resumable segmentation training: one checkpoint for the fit phases of a stage (its
self-training rounds, then its last fit), guarded by a fingerprint of params and data.

A phase's checkpoint holds the model, optimiser and both random streams after an epoch, the
dvclive step and a copy of the dvclive folder (DVC deletes it before re-running the stage), and
for a self-training round the weights the round started from (its labels are made with them, so
a resumed round re-labels the frames exactly). Rank 0 writes it atomically; every rank reads it.
"""

from __future__ import annotations

import copy
import logging
import shutil
from pathlib import Path

import numpy as np
import torch

from pipeline.checkpoints import load_training_state, save_training_state
from pipeline.training import Dist, restore_live, snapshot_live

log = logging.getLogger(__name__)


class SegCheckpoint:
    """The checkpoint file of one stage run; `state` is what a matching earlier run left."""

    def __init__(
        self, folder: Path, fingerprint: str, live: Path | None = None, dist: Dist | None = None
    ):
        self.path = Path(folder) / "state.pt"
        self.fingerprint = fingerprint
        self.live = live
        self.main = dist is None or dist.main
        self.state = load_training_state(self.path, fingerprint)
        if self.state is not None and live is not None and self.main:
            restore_live(self.path.parent, live)
        self.start: dict | None = None
        if self.state is not None:
            log.info(
                "resuming from %s: phase %d, epoch %d",
                self.path,
                self.state["phase"],
                self.state["epoch"],
            )

    @property
    def live_step(self) -> int | None:
        """The dvclive step to resume logging at (None: start a fresh log)."""
        return None if self.state is None else self.state["live_step"]

    def done(self, phase: int) -> bool:
        """Whether the checkpoint is past `phase` (its weights are in a later phase's state)."""
        return self.state is not None and self.state["phase"] > phase

    def begin(self, phase: int, model: torch.nn.Module) -> None:
        """Start a phase whose data the model makes: restore the weights it started from when
        resuming inside it, and keep them in its checkpoints."""
        if self.state is not None and self.state["phase"] == phase:
            model.load_state_dict(self.state["start"])
        self.start = copy.deepcopy(model.state_dict())

    def resume(
        self,
        phase: int,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        rng: np.random.Generator,
    ) -> int:
        """Load a checkpoint of `phase` into model, optimiser and streams; the epoch to go on at
        (0 when the checkpoint is of another phase or there is none)."""
        state = self.state
        if state is None or state["phase"] != phase:
            return 0
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["opt"])
        rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        return state["epoch"]

    def save(
        self,
        phase: int,
        epoch: int,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        rng: np.random.Generator,
        live_step: int,
    ) -> None:
        """Write the state after `epoch` epochs of `phase` (rank 0)."""
        if not self.main:
            return
        state = {
            "fingerprint": self.fingerprint,
            "phase": phase,
            "epoch": epoch,
            "live_step": live_step,
            "model": model.state_dict(),
            "opt": optimizer.state_dict(),
            "rng": rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
        }
        if self.start is not None:
            state["start"] = self.start
        if self.live is not None:
            snapshot_live(self.live, self.path.parent)
        save_training_state(self.path, state)

    def end_phase(self) -> None:
        """The phase's data no longer depend on a start state."""
        self.start = None

    def clear(self) -> None:
        """Remove the checkpoint once the stage's outputs are written (rank 0)."""
        if self.main:
            shutil.rmtree(self.path.parent, ignore_errors=True)
