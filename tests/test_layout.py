"""Reading the raw layout: mask encodings, pairing by stem, and one clear error per bad input."""

from __future__ import annotations

import pytest
from PIL import Image

from pipeline.errors import DataError
from pipeline.io import atomic_dir, list_pairs, read_mask, read_pair
from pipeline.layout import RawLayout


def _pair_folder(root, stems=("a", "b"), size=(32, 24)):
    for sub in ("images", "masks"):
        (root / sub).mkdir(parents=True)
    for stem in stems:
        Image.new("RGB", size, (90, 120, 60)).save(root / "images" / f"{stem}.jpg")
        Image.new("L", size, 0).save(root / "masks" / f"{stem}.png")
    return root


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
    pairs = list_pairs(_pair_folder(tmp_path / "annotated"), "annotated")
    assert [p.stem for p in pairs] == ["a", "b"]
    assert pairs[0].image.suffix == ".jpg" and pairs[0].mask.suffix == ".png"


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(DataError, match="data.root folder not found: .*nowhere"):
        RawLayout(tmp_path / "nowhere")
    with pytest.raises(DataError, match="annotated folder not found"):
        RawLayout(tmp_path).annotated()


def test_unpaired_mask_and_image_are_named(tmp_path):
    root = _pair_folder(tmp_path / "annotated")
    Image.new("L", (32, 24)).save(root / "masks" / "orphan.png")
    with pytest.raises(DataError, match=r"mask without image: .*orphan\.png"):
        list_pairs(root, "annotated")
    (root / "masks" / "orphan.png").unlink()
    (root / "masks" / "b.png").unlink()
    with pytest.raises(DataError, match=r"image without mask: .*b\.jpg"):
        list_pairs(root, "annotated")


def test_mask_of_another_size_is_named(tmp_path):
    root = _pair_folder(tmp_path / "annotated")
    Image.new("L", (16, 16)).save(root / "masks" / "b.png")
    first, second = list_pairs(root, "annotated")
    read_pair(first)
    with pytest.raises(DataError, match=r"mask .*b\.png is 16x16 but its image .*b\.jpg is 32x24"):
        read_pair(second)


def test_unreadable_image_is_named(tmp_path):
    root = _pair_folder(tmp_path / "annotated")
    (root / "images" / "a.jpg").write_bytes(b"no jpeg here")
    with pytest.raises(DataError, match=r"cannot read image .*a\.jpg"):
        read_pair(list_pairs(root, "annotated")[0])


def test_domains_csv_must_name_existing_pairs(tmp_path):
    split = _pair_folder(tmp_path / "gwhd" / "test")
    (split / "domains.csv").write_text("file,domain\na.jpg,utokyo_1\n")
    _, domains = RawLayout(tmp_path).gwhd("test")
    assert domains == {"a": "utokyo_1", "b": "all"}
    (split / "domains.csv").write_text("file,domain\nz.jpg,utokyo_1\n")
    with pytest.raises(DataError, match=r"domains\.csv names z\.jpg"):
        RawLayout(tmp_path).gwhd("test")


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
