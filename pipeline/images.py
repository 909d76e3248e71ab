"""Image and mask files: finding, reading and writing them."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from pipeline.errors import DataError

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_EXTS = (".mp4", ".avi", ".mov", ".mkv")


def list_files(folder: Path, exts: tuple[str, ...]) -> list[Path]:
    """Files in `folder` (not recursive) whose suffix is one of `exts`, sorted by name."""
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower() in exts)


def reader_threads() -> int:
    """Threads for decoding image files (PIL releases the GIL while it decodes and resizes): the
    process's OMP_NUM_THREADS share when set, as under a `dvc queue` worker, else its cores."""
    if os.environ.get("OMP_NUM_THREADS"):
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def require_dir(folder: Path, what: str) -> Path:
    """Return `folder` if it is a directory, else raise a DataError naming it."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{what} folder not found: {folder}")
    return folder


def _open(path: Path) -> Image.Image:
    try:
        img = Image.open(path)
        img.load()
    except (OSError, UnidentifiedImageError) as err:
        raise DataError(f"cannot read image {path}: {err}") from None
    return img


def read_rgb(path: Path) -> np.ndarray:
    """An image file as uint8 H×W×3."""
    return np.asarray(_open(path).convert("RGB"))


def read_mask(path: Path) -> np.ndarray:
    """A mask file as bool H×W: every non-zero pixel (any channel) is wheat."""
    arr = np.asarray(_open(path))
    if arr.ndim == 3:
        channels = arr[..., :3] if arr.shape[2] == 4 else arr
        arr = channels.max(axis=2)
    return arr > 0


def write_rgb(path: Path, image: np.ndarray) -> None:
    """Write a uint8 H×W×3 image as PNG."""
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8), "RGB").save(path)


def write_mask(path: Path, mask: np.ndarray) -> None:
    """Write a boolean (or 0/1) mask as a one-channel 0/255 PNG."""
    Image.fromarray((np.asarray(mask) > 0).astype(np.uint8) * 255, "L").save(path)
