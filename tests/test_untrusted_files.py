"""Files from elsewhere are data, never code: weights only from safetensors, checkpoints only as
tensors and numbers, arrays without pickles, and no path read from a table leaves its folder."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from pipeline.checkpoints import load_training_state, save_model
from pipeline.data.layout import RawLayout
from pipeline.datasets import load_packed, read_dataset, read_manifest, write_pair
from pipeline.errors import DataError
from pipeline.seg.segmentation import SegModelConfig, build_unet, load_unet


class _Payload:
    """Unpickling this runs code: it touches a file."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_checkpoint_that_would_run_code_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "state.pt"
    with open(path, "wb") as f:
        pickle.dump({"fingerprint": "g", "evil": _Payload(str(marker))}, f, protocol=2)
    with pytest.raises(DataError, match=r"refusing to load .*state\.pt: it holds more than"):
        load_training_state(path, "g")
    assert not marker.exists()


def test_weights_load_from_safetensors_only(tmp_path):
    config = SegModelConfig("mobilenet_v2", 2, [8, 8], size=16)
    model = build_unet(config)
    save_model(model, config, tmp_path / "model")
    load_unet(tmp_path / "model")
    (tmp_path / "model/model.safetensors").unlink()
    torch.save(model.state_dict(), tmp_path / "model/model.pt")
    with pytest.raises(DataError, match=r"config\.json \+ model\.safetensors"):
        load_unet(tmp_path / "model")


def test_a_packed_array_with_pickles_is_refused(tmp_path):
    objects = np.empty((2, 4, 4, 4), dtype=object)
    np.save(tmp_path / "train_4.npy", objects, allow_pickle=True)
    with pytest.raises(DataError, match=r"train_4\.npy is not a packed uint8 array"):
        load_packed(tmp_path / "train_4.npy")
    np.save(tmp_path / "val_4.npy", np.zeros((2, 4, 4, 3), np.uint8))
    with pytest.raises(DataError, match=r"val_4\.npy holds uint8 \(2, 4, 4, 3\)"):
        load_packed(tmp_path / "val_4.npy")


@pytest.mark.parametrize("escape", ["../outside.png", "/etc/passwd", "images/../../x.png"])
@pytest.mark.parametrize("column", ["image", "mask"])
def test_a_manifest_path_that_leaves_its_folder_is_an_error_naming_file_and_line(
    tmp_path, escape, column
):
    root = tmp_path / "set"
    for stem in ("a", "b"):
        write_pair(root, stem, np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), bool))
    rows = [{"id": s, "image": f"images/{s}.png", "mask": f"masks/{s}.png"} for s in "ab"]
    pd.DataFrame(rows).to_csv(root / "manifest.csv", index=False)
    assert len(read_dataset(root)[0]) == 2
    rows[1][column] = escape
    pd.DataFrame(rows).to_csv(root / "manifest.csv", index=False)
    with pytest.raises(DataError, match=rf"manifest\.csv, line 3: '{escape}' leaves"):
        read_manifest(root)


@pytest.mark.parametrize("escape", ["../a.jpg", os.path.abspath("/tmp/a.jpg")])
def test_a_domains_csv_path_that_leaves_its_folder_is_an_error_naming_file_and_line(
    tmp_path, escape
):
    split = tmp_path / "gwhd" / "test"
    for sub in ("images", "masks"):
        (split / sub).mkdir(parents=True)
    Image.new("RGB", (16, 16)).save(split / "images/a.jpg")
    Image.new("L", (16, 16)).save(split / "masks/a.png")
    (split / "domains.csv").write_text(f"file,domain\na.jpg,one\n{escape},two\n")
    with pytest.raises(DataError, match=r"domains\.csv, line 3: .* leaves"):
        RawLayout(tmp_path).gwhd("test")
