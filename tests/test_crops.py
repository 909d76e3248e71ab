"""prepare's crops: binary masks after resizing, disjoint splits, seeded positions in bounds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from pipeline.data.crops import crop_positions, pack_crops, split_by_source
from pipeline.errors import DataError
from pipeline.images import reader_threads
from pipeline.stages import prepare


def _frame(rng, height=96, width=128):
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    yy, xx = np.mgrid[0:height, 0:width]
    mask = ((yy - 40) ** 2 / 200 + (xx - 60) ** 2 / 50) < 1
    mask |= rng.random((height, width)) > 0.97
    return image, mask


@pytest.mark.parametrize("size", [16, 32])
def test_a_resized_crop_takes_the_nearest_mask_pixels_and_smooths_the_image(size):
    rng = np.random.default_rng(1)
    image, mask = _frame(rng)
    positions = crop_positions(rng, *mask.shape, 64, 5)
    packed = pack_crops(image, mask, positions, 64, size)
    assert packed.shape == (5, size, size, 4) and packed.dtype == np.uint8
    nearest = ((np.arange(size) + 0.5) * 64 / size).astype(int)  # the source pixel centres
    for crop, (y, x) in zip(packed, positions, strict=True):
        window = mask[y : y + 64, x : x + 64]
        np.testing.assert_array_equal(crop[..., 3] == 255, window[nearest][:, nearest])
        assert crop[..., :3].std() < image[y : y + 64, x : x + 64].std()  # antialiased


def test_a_crop_at_its_own_size_is_the_exact_window():
    rng = np.random.default_rng(2)
    image, mask = _frame(rng)
    ((y, x),) = crop_positions(rng, *mask.shape, 32, 1)
    packed = pack_crops(image, mask, np.array([[y, x]]), 32, 32)[0]
    np.testing.assert_array_equal(packed[..., :3], image[y : y + 32, x : x + 32])
    np.testing.assert_array_equal(packed[..., 3] > 0, mask[y : y + 32, x : x + 32])


def test_positions_are_seeded_and_inside_the_frame():
    a = crop_positions(np.random.default_rng(3), 96, 128, 64, 200)
    b = crop_positions(np.random.default_rng(3), 96, 128, 64, 200)
    np.testing.assert_array_equal(a, b)
    assert a[:, 0].min() >= 0 and a[:, 0].max() <= 32
    assert a[:, 1].min() >= 0 and a[:, 1].max() <= 64
    assert a[:, 1].max() > 32
    with pytest.raises(DataError, match="does not fit"):
        crop_positions(np.random.default_rng(3), 96, 128, 97, 1)


def _frames(videos: dict[str, int], stills: int = 0) -> pd.DataFrame:
    rows = [
        {"id": f"{video}_{k:05d}", "source": f"videos/{video}.mp4", "frame": 2 * k}
        for video, n in videos.items()
        for k in range(n)
    ]
    rows += [{"id": f"still_{k}", "source": f"stills/{k}.jpg", "frame": 0} for k in range(stills)]
    return pd.DataFrame(rows).sample(frac=1, random_state=0).reset_index(drop=True)


@pytest.mark.parametrize(
    ("videos", "stills", "segment"),
    [({"a": 15, "b": 15}, 0, 8), ({"pan": 64}, 20, 8), ({"a": 4}, 0, 2), ({"a": 3}, 5, 1)],
)
def test_no_source_segment_straddles_the_split(videos, stills, segment):
    frames = _frames(videos, stills)
    split = split_by_source(frames, 0.2, segment, np.random.default_rng(4))
    assert list(split["id"]) == list(frames["id"])
    assert (split.groupby("segment")["split"].nunique() == 1).all()
    assert set(split["split"]) == {"train", "val"}
    table = frames.assign(segment=split["segment"], split=split["split"])
    for _, seg in table.groupby("segment"):
        assert seg["source"].nunique() == 1 and len(seg) <= segment
        # a segment is a run of consecutive frames of its source
        run = table[table.source == seg.source.iloc[0]].sort_values("frame")["id"].tolist()
        ids = sorted(seg["id"], key=run.index)
        assert ids == run[run.index(ids[0]) : run.index(ids[0]) + len(ids)]
    val = int((split["split"] == "val").sum())
    assert round(0.2 * len(frames)) <= val < round(0.2 * len(frames)) + segment
    again = split_by_source(frames, 0.2, segment, np.random.default_rng(4))
    pd.testing.assert_frame_equal(split, again)


def test_one_segment_cannot_be_split():
    with pytest.raises(DataError, match="at least 2 source segments"):
        split_by_source(_frames({"a": 5}), 0.2, 8, np.random.default_rng(0))


def test_prepare_packs_the_same_bytes_on_any_number_of_reader_threads(
    tmp_path, monkeypatch, smoke_params, write_params
):
    rng = np.random.default_rng(3)
    pseudo = tmp_path / "data/pseudo"
    (pseudo / "images").mkdir(parents=True)
    (pseudo / "masks").mkdir()
    rows, frames = [], {}
    for i in range(8):
        image, mask = frames[f"f{i}"] = _frame(rng)
        name = f"f{i}.png"
        Image.fromarray(image).save(pseudo / "images" / name)
        Image.fromarray(mask.astype(np.uint8) * 255).save(pseudo / "masks" / name)
        rows.append((f"f{i}", f"images/{name}", f"masks/{name}", f"v{i // 4}.mp4", i % 4))
    columns = ["id", "image", "mask", "source", "frame"]
    pd.DataFrame(rows, columns=columns).to_csv(pseudo / "manifest.csv", index=False)
    write_params(smoke_params)
    monkeypatch.chdir(tmp_path)
    outputs = []
    for threads in ("1", "3"):
        monkeypatch.setenv("OMP_NUM_THREADS", threads)
        assert reader_threads() == int(threads)
        prepare.main()
        out = tmp_path / "data/prepared"
        outputs.append({f.name: f.read_bytes() for f in sorted(out.iterdir())})
    assert outputs[0] == outputs[1]
    crops = pd.read_csv(tmp_path / "data/prepared/crops.csv")
    train = np.load(tmp_path / "data/prepared/train_32.npy")
    for k, crop in enumerate(crops[crops.split == "train"].itertuples()):
        image, mask = frames[crop.frame]
        window = pack_crops(image, mask, np.array([[crop.y, crop.x]]), 64, 32)[0]
        np.testing.assert_array_equal(train[k], window)
