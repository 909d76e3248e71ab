"""Models on disk, for every network of the pipeline (generator, super-resolver, segmentation
U-Nets): weights for use as model.safetensors + config.json, written atomically and loaded without
running code; and a trainer's resumable state, written atomically and loaded only when its
fingerprint matches and it holds nothing but tensors, numbers and strings."""

from __future__ import annotations

import json
import logging
import pickle
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from pipeline.errors import DataError
from pipeline.files import atomic_dir, atomic_file

log = logging.getLogger(__name__)

WEIGHTS, CONFIG = "model.safetensors", "config.json"


def save_model(model: torch.nn.Module, config: Any, folder: Path) -> None:
    """Write the weights (floating tensors as float32) and the dataclass `config` into `folder`,
    atomically: a full disk or a kill leaves the previous folder whole."""
    state = {
        k: (v.detach().float() if v.is_floating_point() else v.detach()).cpu().contiguous()
        for k, v in model.state_dict().items()
    }
    with atomic_dir(folder) as tmp:
        save_file(state, tmp / WEIGHTS)
        (tmp / CONFIG).write_text(json.dumps(asdict(config), indent=2) + "\n")


def read_config(folder: Path, what: str) -> dict:
    """The config.json of a model folder written by save_model, as a dict."""
    folder = Path(folder)
    if not (folder / CONFIG).is_file() or not (folder / WEIGHTS).is_file():
        raise DataError(f"no saved {what} ({CONFIG} + {WEIGHTS}) in {folder}")
    return json.loads((folder / CONFIG).read_text())


def load_model(
    folder: Path, build: Callable[[dict], torch.nn.Module], what: str
) -> torch.nn.Module:
    """The model saved in `folder`, built by `build(config dict)`, in eval mode on the CPU."""
    config = read_config(folder, what)
    try:
        model = build(config)
    except (TypeError, ValueError) as err:
        raise DataError(f"{Path(folder) / CONFIG} does not describe a {what}: {err}") from None
    model.load_state_dict(load_file(Path(folder) / WEIGHTS))
    return model.eval()


def trained_size(model: torch.nn.Module, folder: Path, what: str) -> int:
    """The side of the pairs the diffusion network loaded from `folder` was trained on."""
    size = model.config.sample_size
    if size is None:
        raise DataError(
            f"{Path(folder) / CONFIG} records no sample_size; re-train the {what} "
            "with this version of the pipeline"
        )
    return size


def save_training_state(path: Path, state: dict) -> None:
    """Write a resumable training state (tensors, numbers, strings) atomically."""
    with atomic_file(path) as tmp:
        torch.save(state, tmp)


def load_training_state(path: Path, expected_fingerprint: str) -> dict | None:
    """The training state at `path` if it exists and was made with the same fingerprint, else
    None; one that would run code when unpickled is refused without running it."""
    if not Path(path).is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise DataError(
            f"refusing to load {path}: it holds more than tensors, numbers and strings"
            " (delete it to start the stage afresh)"
        ) from None
    if state.get("fingerprint") != expected_fingerprint:
        log.info("ignoring checkpoint %s: it was made with other params or data", path)
        return None
    return state
