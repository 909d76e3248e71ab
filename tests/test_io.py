"""Files: images and masks (any non-zero mask pixel is wheat), pairs by stem, paired datasets
and their manifests, packed crops, digests, and atomic writes that leave the old output whole."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from PIL import Image

from pipeline.datasets import PairWriter, list_pairs, read_dataset, read_pair, read_training_pairs
from pipeline.errors import DataError
from pipeline.files import atomic_dir, atomic_file, file_digest
from pipeline.images import list_files, read_mask
from tests.conftest import crops, pair_folder


@pytest.mark.parametrize(
    ("mode", "value"), [("L", 1), ("L", 255), ("RGB", (200, 0, 0)), ("RGBA", (0, 0, 9, 255))]
)
def test_any_nonzero_mask_pixel_is_wheat(tmp_path, mode, value):
    background = 0 if mode == "L" else (0, 0, 0, 255)[: len(mode)]
    img = Image.new(mode, (8, 6), background)
    img.putpixel((3, 2), value)
    img.save(tmp_path / "m.png")
    mask = read_mask(tmp_path / "m.png")
    assert mask.dtype == bool and mask.shape == (6, 8)
    assert mask.sum() == 1 and mask[2, 3]


def test_pairs_match_by_stem(tmp_path):
    pairs = list_pairs(pair_folder(tmp_path / "annotated"), "annotated")
    assert [p.stem for p in pairs] == ["a", "b"]
    assert pairs[0].image.suffix == ".jpg" and pairs[0].mask.suffix == ".png"


def test_unpaired_mask_and_image_are_named(tmp_path):
    root = pair_folder(tmp_path / "annotated")
    Image.new("L", (32, 24)).save(root / "masks" / "orphan.png")
    with pytest.raises(DataError, match=r"mask without image: .*orphan\.png"):
        list_pairs(root, "annotated")
    (root / "masks" / "orphan.png").unlink()
    (root / "masks" / "b.png").unlink()
    with pytest.raises(DataError, match=r"image without mask: .*b\.jpg"):
        list_pairs(root, "annotated")


def test_mask_of_another_size_is_named(tmp_path):
    root = pair_folder(tmp_path / "annotated")
    Image.new("L", (16, 16)).save(root / "masks" / "b.png")
    first, second = list_pairs(root, "annotated")
    read_pair(first)
    with pytest.raises(DataError, match=r"mask .*b\.png is 16x16 but its image .*b\.jpg is 32x24"):
        read_pair(second)


def test_unreadable_image_is_named(tmp_path):
    root = pair_folder(tmp_path / "annotated")
    (root / "images" / "a.jpg").write_bytes(b"no jpeg here")
    with pytest.raises(DataError, match=r"cannot read image .*a\.jpg"):
        read_pair(list_pairs(root, "annotated")[0])


def test_atomic_dir_keeps_the_old_output_when_writing_fails(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "new.txt").write_text("half")
        raise RuntimeError("interrupted")
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert [p.name for p in target.iterdir()] == ["old.txt"]
    with atomic_dir(target) as tmp:
        (tmp / "new.txt").write_text("whole")
    assert [p.name for p in target.iterdir()] == ["new.txt"]


def test_atomic_file_replaces_the_target_only_when_the_write_finished(tmp_path):
    target = tmp_path / "table.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_file(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["table.json"]
    with atomic_file(target) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".json"
        tmp.write_text("new")
    assert target.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["table.json"]


def test_a_written_dataset_reads_back_in_manifest_order_with_its_mask_fractions(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (3, 6, 5, 3), dtype=np.uint8)
    masks = rng.random((3, 6, 5)) > 0.5
    writer = PairWriter(tmp_path / "set")
    for k in (2, 0, 1):
        writer.add(f"p{k}", images[k], masks[k], source="s")
    manifest = writer.close()
    assert list(manifest["id"]) == ["p2", "p0", "p1"]
    assert list(manifest["mask_fraction"]) == [round(float(masks[k].mean()), 6) for k in (2, 0, 1)]
    got_images, got_masks = read_dataset(tmp_path / "set")
    np.testing.assert_array_equal(got_images, images[[2, 0, 1]])
    np.testing.assert_array_equal(got_masks, masks[[2, 0, 1]])


def test_training_pairs_come_from_a_dataset_folder_or_the_packed_training_split(tmp_path):
    packed = crops(4, size=8)
    (tmp_path / "prepared").mkdir()
    np.save(tmp_path / "prepared/train_8.npy", packed)
    images, masks = read_training_pairs(tmp_path / "prepared", 8)
    np.testing.assert_array_equal(images, packed[..., :3])
    np.testing.assert_array_equal(masks, packed[..., 3] == 255)
    writer = PairWriter(tmp_path / "set")
    writer.add("a", packed[0, ..., :3], masks[0])
    writer.close()
    images, masks = read_training_pairs(tmp_path / "set", 8)
    assert images.shape == (1, 8, 8, 3) and masks.shape == (1, 8, 8)
    with pytest.raises(DataError, match="packed array not found: .*train_16.npy"):
        read_training_pairs(tmp_path / "prepared", 16)


def test_files_are_listed_by_extension_in_name_order_and_digested(tmp_path):
    for name in ("b.PNG", "a.jpg", "c.txt", "d.mp4"):
        (tmp_path / name).write_bytes(name.encode())
    (tmp_path / "e.png").mkdir()
    assert [p.name for p in list_files(tmp_path, (".png", ".jpg"))] == ["a.jpg", "b.PNG"]
    assert file_digest(tmp_path / "a.jpg") == hashlib.sha256(b"a.jpg").hexdigest()
