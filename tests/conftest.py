"""Shared fixtures: the project root, a params.yaml writer, the real-data folder, a tiny saved
generator and super-resolver."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch
import yaml

from pipeline.checkpoints import save_model
from pipeline.nets.paired_unet import PairedUNetConfig, build_generator
from pipeline.nets.sr_unet import SRUNetConfig, build_sr

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
