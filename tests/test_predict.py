"""synthset-predict: a trained model applied to photos, a folder and a real encoded video."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from pipeline.checkpoints import save_model
from pipeline.data.video import encode_video
from pipeline.errors import DataError
from pipeline.images import read_mask, read_rgb
from pipeline.seg import predict as predict_module
from pipeline.seg.predict import main, predict, predict_image
from pipeline.seg.segmentation import SegModelConfig, build_unet, load_unet

CONFIG = SegModelConfig("resnet18", 3, [16, 8, 8], size=16, scale=0.5)


@pytest.fixture
def model_dir(tmp_path):
    torch.manual_seed(0)
    folder = tmp_path / "model"
    save_model(build_unet(CONFIG), CONFIG, folder)
    return folder


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(folder / "a.png")
    Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(folder / "b.jpg")
    (folder / "notes.txt").write_text("not a photo")
    return folder


def test_a_folder_gets_masks_at_each_photos_size_overlays_and_the_cover_table(
    model_dir, photos, tmp_path
):
    table = predict(model_dir, photos, tmp_path / "out", 32, 0.5, 1)
    model, config = load_unet(model_dir)
    assert list(table["name"]) == ["a", "b"]
    for name in ("a", "b"):
        image = read_rgb(next(photos.glob(f"{name}.*")))
        mask = read_mask(tmp_path / "out/masks" / f"{name}.png")
        assert mask.shape == image.shape[:2]
        np.testing.assert_array_equal(mask, predict_image(model, config, image, 32) >= 0.5)
        assert read_rgb(tmp_path / "out/overlays" / f"{name}.png").shape == image.shape
        row = table.set_index("name").loc[name]
        assert (row["width"], row["height"]) == (image.shape[1], image.shape[0])
        assert row["cover_fraction"] == pytest.approx(mask.mean())
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "out/cover.csv"), table)


def test_the_model_sees_the_photo_at_frame_scale_times_its_own(model_dir, monkeypatch):
    shapes = []
    real = predict_module.predict_probs

    def spy(model, images, batch_size, flips=False):
        shapes.append(images.shape[1:3])
        return real(model, images, batch_size, flips)

    monkeypatch.setattr(predict_module, "predict_probs", spy)
    model, config = load_unet(model_dir)
    image = np.zeros((60, 90, 3), np.uint8)
    probs = predict_image(model, config, image, 40)  # frame scale 40 x 60, the model's 0.5: 20 x 30
    assert shapes == [(20, 30)]
    assert probs.shape == (60, 90)


def test_a_video_is_decoded_at_frame_scale_every_kth_frame(model_dir, tmp_path):
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 256, (64, 96, 3), dtype=np.uint8) for _ in range(6)]
    encode_video(tmp_path / "field.mp4", frames, fps=6)
    table = predict(model_dir, tmp_path / "field.mp4", tmp_path / "out", 32, 0.5, 2)
    assert list(table["name"]) == ["field_f000000", "field_f000002", "field_f000004"]
    assert set(table["width"]) == {48} and set(table["height"]) == {32}
    assert read_mask(tmp_path / "out/masks/field_f000002.png").shape == (32, 48)


def test_a_single_photo_and_the_command_line(model_dir, photos, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no params.yaml here
    main([str(model_dir), str(photos / "a.png"), str(tmp_path / "out"), "--frame-size", "32"])
    assert pd.read_csv(tmp_path / "out/cover.csv")["name"].tolist() == ["a"]
    with pytest.raises(SystemExit) as exit_:
        main([str(model_dir), str(photos), str(tmp_path / "out2")])
    assert exit_.value.code == 2
    assert "pass --frame-size" in capsys.readouterr().err


def test_bad_input_names_the_file_and_leaves_earlier_outputs_intact(model_dir, photos, tmp_path):
    out = tmp_path / "out"
    predict(model_dir, photos, out, 32, 0.5, 1)
    before = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    (photos / "c.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="c.png"):
        predict(model_dir, photos, out, 32, 0.5, 1)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no photos"):
        predict(model_dir, empty, out, 32, 0.5, 1)
    with pytest.raises(DataError, match="no saved segmentation model"):
        predict(tmp_path, photos, out, 32, 0.5, 1)
    with pytest.raises(DataError, match="not found"):
        predict(model_dir, tmp_path / "missing.png", out, 32, 0.5, 1)
    assert {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".out")) == []


def test_it_never_replaces_the_input_or_a_folder_it_did_not_write(model_dir, photos, tmp_path):
    with pytest.raises(DataError, match="holds the input"):
        predict(model_dir, photos / "a.png", photos, 32, 0.5, 1)
    with pytest.raises(DataError, match="not a synthset-predict output"):
        predict(model_dir, photos / "a.png", model_dir, 32, 0.5, 1)
    assert (model_dir / "model.safetensors").is_file()
