"""Shared fixtures and helpers: the project root, a params.yaml writer, the real-data folder, tiny
networks and trainers' params, random crops, a tiny saved generator and super-resolver."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from safetensors.torch import load_file

from pipeline.checkpoints import save_model
from pipeline.gen.diffusion_training import RunPaths
from pipeline.gen.generation import Generation, GenerationSpec
from pipeline.gen.nets.paired_unet import PairedUNetConfig, build_generator
from pipeline.gen.nets.sr_unet import SRUNetConfig, build_sr
from pipeline.params import GenParams, SRParams
from pipeline.training import Dist

ROOT = Path(__file__).resolve().parents[1]
REAL_DATA = Path(os.environ.get("SYNTHSET_REAL_DATA", ROOT.parent / "shared/data/wheat-real"))


def free_port() -> int:
    """A free TCP port on localhost for a torch.distributed rendezvous."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smoke_params() -> dict:
    """The smoke profile as a plain dict, to edit and write."""
    return yaml.safe_load((ROOT / "profiles/smoke.yaml").read_text())


@pytest.fixture
def write_params(tmp_path):
    """Write a params dict to tmp_path/params.yaml and return its path."""

    def write(params: dict) -> Path:
        path = tmp_path / "params.yaml"
        path.write_text(yaml.safe_dump(params))
        return path

    return write


TINY_NET = {"widths": (8, 16), "layers_per_level": 1, "heads": 2, "time_dim": 16}
CPU = Dist(0, 1, torch.device("cpu"))
TINY_TRAINING = {"epochs": 3, "batch_size": 4, "eval_every": 2, "val_timesteps": 2}
TINY_GEN = GenParams(
    widths=[8, 16], disc_widths=[8, 16], layers_per_level=1, heads=2, time_dim=32,
    jsd_samples=4, jsd_steps=2, checkpoint_every=1, **TINY_TRAINING,
)  # fmt: skip
TINY_SR = SRParams(
    widths=[8, 16], layers_per_level=1, heads=2, time_dim=32, eval_samples=3, eval_steps=2,
    checkpoint_every=1, **TINY_TRAINING,
)  # fmt: skip


def crops(n: int, seed: int = 0, size: int = 16) -> np.ndarray:
    """n random packed crops (uint8 N×size×size×4, mask channel 0/255)."""
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, (n, size, size, 4), dtype=np.uint8)
    data[..., 3] = np.where(data[..., 3] > 200, 255, 0)
    return data


def run_paths(root: Path) -> RunPaths:
    """A diffusion trainer's outputs under root: models/, ckpt/, live/."""
    return RunPaths(root / "models", root / "ckpt", root / "live")


def pair_folder(root: Path, stems=("a", "b"), size=(32, 24)) -> Path:
    """A folder of images/ (JPEG) and masks/ (empty PNG) pairs named by `stems`."""
    for sub in ("images", "masks"):
        (root / sub).mkdir(parents=True)
    for stem in stems:
        Image.new("RGB", size, (90, 120, 60)).save(root / "images" / f"{stem}.jpg")
        Image.new("L", size, 0).save(root / "masks" / f"{stem}.png")
    return root


SPEC = GenerationSpec(
    seed=3, n=7, batch_size=3, gen_size=8, factor=2, sampler="ddpm", steps=4, eta=0.0,
    sr_sampler="ddim", sr_steps=3, sr_eta=0.0,
)  # fmt: skip


def tiny_generation(nets: dict, spec: GenerationSpec = SPEC) -> Generation:
    """A one-process generation of `spec` with the tiny saved networks of `nets`."""
    return Generation(spec, nets["generator"], nets["sr"], nets["weights"], CPU)


def files(root: Path) -> dict[str, bytes]:
    """Every file under root, by relative path, with its bytes."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def weights(folder: Path) -> dict[str, torch.Tensor]:
    """The tensors of a saved model folder."""
    return load_file(folder / "model.safetensors")


@pytest.fixture(scope="module")
def nets(tmp_path_factory) -> dict:
    """A tiny generator (8 px) and super-resolver (×2), saved as a stage would save them."""
    root = tmp_path_factory.mktemp("nets")
    torch.manual_seed(0)
    gen_config = PairedUNetConfig(**TINY_NET, sample_size=8)
    sr_config = SRUNetConfig(**TINY_NET, sample_size=16, factor=2)
    nets = {"generator": build_generator(gen_config).eval(), "sr": build_sr(sr_config).eval()}
    for name, config in (("generator", gen_config), ("sr", sr_config)):
        save_model(nets[name], config, root / name)
    return {
        **nets,
        "folders": {n: root / n for n in ("generator", "sr")},
        "weights": {n: root / n / "model.safetensors" for n in ("generator", "sr")},
    }
