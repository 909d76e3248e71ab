"""A full disk while writing weights, a generated batch, a manifest or a checkpoint ends with one
clear message and leaves the earlier outputs and checkpoints usable."""

from __future__ import annotations

import errno
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import torch

from pipeline import checkpoints
from pipeline.errors import run_stage
from pipeline.gen import generation
from pipeline.seg.segmentation import SegModelConfig, build_unet, load_unet
from tests.conftest import SPEC, files, tiny_generation

FULL = OSError(errno.ENOSPC, "No space left on device")


def _full(obj, path, *args, **kwargs):
    """A save (safetensors' save_file, torch.save) that fills the disk half way through `path`."""
    Path(path).write_bytes(b"half a file")
    raise FULL


def _leftovers(path) -> list[str]:
    """Temporary files or folders left beside `path` (atomic writes name them .<name>.*)."""
    return sorted(p.name for p in path.parent.iterdir() if p.name.startswith("."))


def test_segmentation_weights_keep_the_previous_folder(tmp_path, monkeypatch):
    config = SegModelConfig("mobilenet_v2", 2, [8, 8], size=16)
    torch.manual_seed(0)
    old = build_unet(config)
    checkpoints.save_model(old, config, tmp_path / "model")
    monkeypatch.setattr(checkpoints, "save_file", _full)
    with pytest.raises(OSError, match="No space left"):
        checkpoints.save_model(build_unet(config), config, tmp_path / "model")
    assert _leftovers(tmp_path / "model") == []
    loaded, _ = load_unet(tmp_path / "model")
    for key, value in old.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value, rtol=0, atol=0)


def test_diffusion_weights_and_checkpoints_keep_the_previous_files(tmp_path, monkeypatch, nets):
    folder = tmp_path / "gen"
    checkpoints.save_model(nets["generator"], nets["generator"].config, folder)
    before = files(folder)
    checkpoints.save_training_state(tmp_path / "ckpt/state.pt", {"fingerprint": "g", "epoch": 3})
    monkeypatch.setattr(checkpoints, "save_file", _full)
    with pytest.raises(OSError):
        checkpoints.save_model(nets["generator"], nets["generator"].config, folder)
    assert files(folder) == before and _leftovers(folder) == []
    monkeypatch.setattr(checkpoints.torch, "save", _full)
    with pytest.raises(OSError):
        checkpoints.save_training_state(
            tmp_path / "ckpt/state.pt", {"fingerprint": "g", "epoch": 4}
        )
    assert checkpoints.load_training_state(tmp_path / "ckpt/state.pt", "g")["epoch"] == 3
    assert _leftovers(tmp_path / "ckpt/state.pt") == []


@pytest.mark.parametrize("where", ["batch", "manifest"])
def test_generation_keeps_the_previous_set_and_resumes_after_a_full_disk(
    tmp_path, monkeypatch, nets, where
):
    spec = replace(SPEC, n=6)
    out, staging = tmp_path / "out", tmp_path / "staging"
    tiny_generation(nets, replace(spec, seed=9)).run(out, staging)  # the previous dataset
    previous = files(out)
    whole = tmp_path / "whole"
    tiny_generation(nets, spec).run(whole, tmp_path / "staging_whole")
    with monkeypatch.context() as m:
        if where == "batch":
            real, calls = generation.write_rgb, {"n": 0}

            def write_then_fill(path, image):
                calls["n"] += 1
                if calls["n"] == 5:  # inside the second batch
                    raise FULL
                real(path, image)

            m.setattr(generation, "write_rgb", write_then_fill)
        else:
            real_to_csv = pd.DataFrame.to_csv

            def manifest_fills(self, path=None, *args, **kwargs):
                if str(path).endswith("manifest.csv"):
                    raise FULL
                return real_to_csv(self, path, *args, **kwargs)

            m.setattr(pd.DataFrame, "to_csv", manifest_fills)
        with pytest.raises(OSError, match="No space left"):
            tiny_generation(nets, spec).run(out, staging)
    assert files(out) == previous
    assert _leftovers(out) == []
    tiny_generation(nets, spec).run(out, staging)
    assert files(out) == files(whole)


def test_a_stage_on_a_full_disk_prints_one_line_naming_the_file(tmp_path):
    code = (
        "import errno\n"
        "from pipeline.errors import run_stage\n"
        "def main():\n"
        "    raise OSError(errno.ENOSPC, 'No space left on device', 'models/gen/final')\n"
        "run_stage(main)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert lines == [
        "error: no space left on the device writing models/gen/final: free some and run the"
        " stage again (the outputs and checkpoints written before are unchanged)"
    ]


def test_other_os_errors_are_not_disguised_as_a_full_disk():
    def main():
        raise PermissionError(errno.EACCES, "Permission denied")

    with pytest.raises(PermissionError):
        run_stage(main)
