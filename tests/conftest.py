"""Shared fixtures: the project root, a params.yaml writer, the real-data folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
REAL_DATA = Path(os.environ.get("SYNTHSET_REAL_DATA", ROOT.parent / "shared/data/wheat-real"))


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
