"""Paired datasets (images/, masks/, manifest.csv) and packed crop arrays."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.errors import DataError
from pipeline.geometry import mask_fraction
from pipeline.images import (
    IMAGE_EXTS,
    list_files,
    read_mask,
    read_rgb,
    require_dir,
    write_mask,
    write_rgb,
)


def write_pair(root: Path, stem: str, image: np.ndarray, mask: np.ndarray) -> None:
    """Write root/images/<stem>.png and root/masks/<stem>.png (folders made as needed)."""
    for sub in ("images", "masks"):
        (Path(root) / sub).mkdir(parents=True, exist_ok=True)
    write_rgb(Path(root) / "images" / f"{stem}.png", image)
    write_mask(Path(root) / "masks" / f"{stem}.png", mask)


@dataclass(frozen=True)
class PairPaths:
    """An image file and its mask file, matched by stem."""

    stem: str
    image: Path
    mask: Path


def list_pairs(folder: Path, what: str) -> list[PairPaths]:
    """Pairs of `folder`/images and `folder`/masks matched by stem; unpaired files are errors."""
    folder = require_dir(folder, what)
    images = {p.stem: p for p in list_files(require_dir(folder / "images", what), IMAGE_EXTS)}
    masks = {p.stem: p for p in list_files(require_dir(folder / "masks", what), IMAGE_EXTS)}
    if lonely := sorted(images.keys() - masks.keys()):
        raise DataError(f"image without mask: {images[lonely[0]]} (no {lonely[0]}.* in masks/)")
    if lonely := sorted(masks.keys() - images.keys()):
        raise DataError(f"mask without image: {masks[lonely[0]]}")
    if not images:
        raise DataError(f"{what} folder has no image/mask pairs: {folder}")
    return [PairPaths(s, images[s], masks[s]) for s in sorted(images)]


def read_pair(pair: PairPaths) -> tuple[np.ndarray, np.ndarray]:
    """Read one pair; a mask whose size differs from its image is an error naming the mask."""
    image, mask = read_rgb(pair.image), read_mask(pair.mask)
    if mask.shape != image.shape[:2]:
        raise DataError(
            f"mask {pair.mask} is {mask.shape[1]}x{mask.shape[0]} but its image "
            f"{pair.image} is {image.shape[1]}x{image.shape[0]}"
        )
    return image, mask


class PairWriter:
    """Writes a user-facing paired dataset: images/, masks/ (0/255 PNG) and manifest.csv."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.rows: list[dict] = []

    def add(self, pair_id: str, image: np.ndarray, mask: np.ndarray, **info) -> None:
        """Write one pair; `info` (source, seed, ...) becomes manifest columns."""
        write_pair(self.root, pair_id, image, mask)
        row = {"id": pair_id, "image": f"images/{pair_id}.png", "mask": f"masks/{pair_id}.png"}
        row.update(info)
        row["mask_fraction"] = round(mask_fraction(mask), 6)
        self.rows.append(row)

    def close(self) -> pd.DataFrame:
        """Write manifest.csv and return it."""
        manifest = pd.DataFrame(self.rows)
        manifest.to_csv(self.root / "manifest.csv", index=False)
        return manifest


PATH_COLUMNS = ("image", "mask", "lowres_image", "lowres_mask")


def inside(folder: Path, entry: str, table: Path, line: int) -> Path:
    """`folder / entry` for a path read from line `line` of `table`; an absolute path or one
    that climbs out with `..` is an error naming the table and the line."""
    text = str(entry)
    parts = Path(text.replace("\\", "/")).parts
    if Path(text).is_absolute() or text.startswith(("/", "\\")) or ".." in parts:
        raise DataError(
            f"{table}, line {line}: {text!r} leaves {folder} (paths must be relative, without ..)"
        )
    return Path(folder) / text


def read_manifest(root: Path) -> pd.DataFrame:
    """The manifest.csv of a paired dataset folder; every file it names must lie inside it."""
    path = Path(root) / "manifest.csv"
    if not path.is_file():
        raise DataError(f"manifest not found: {path}")
    manifest = pd.read_csv(path)
    for column in PATH_COLUMNS:
        if column in manifest:
            for line, entry in enumerate(manifest[column], start=2):
                inside(Path(root), entry, path, line)
    return manifest


def read_dataset(root: Path) -> tuple[np.ndarray, np.ndarray]:
    """Every pair of a paired dataset folder (same-sized PNGs, in manifest order) as uint8
    N×H×W×3 images and bool N×H×W masks."""
    manifest = read_manifest(root)
    images = np.stack([read_rgb(Path(root) / path) for path in manifest["image"]])
    masks = np.stack([read_mask(Path(root) / path) for path in manifest["mask"]])
    return images, masks


def read_training_pairs(source: Path, size: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images N×H×W×3 and bool masks N×H×W of a paired dataset folder (one with a
    manifest.csv), or of prepared crops: the training split `train_<size>.npy` of data/prepared."""
    source = Path(source)
    if (source / "manifest.csv").is_file():
        return read_dataset(source)
    packed = load_packed(source / f"train_{size}.npy")
    return np.ascontiguousarray(packed[..., :3]), packed[..., 3] >= 128


def load_packed(path: Path) -> np.ndarray:
    """Memory-map a packed N×H×W×4 uint8 array (never unpickling anything)."""
    if not Path(path).is_file():
        raise DataError(f"packed array not found: {path}")
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as err:
        raise DataError(f"{path} is not a packed uint8 array: {err}") from None
    if array.dtype != np.uint8 or array.ndim != 4 or array.shape[-1] != 4:
        raise DataError(f"{path} holds {array.dtype} {array.shape}, not uint8 N×H×W×4 crops")
    return array
