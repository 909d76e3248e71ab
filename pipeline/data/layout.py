"""The raw input layout, read from `data.root` (the demo world or a user's folder)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.datasets import PairPaths, inside, list_pairs, read_pair
from pipeline.errors import DataError
from pipeline.geometry import resize_short_side
from pipeline.images import IMAGE_EXTS, VIDEO_EXTS, list_files


@dataclass(frozen=True)
class RawLayout:
    """Paths of one raw data folder; every accessor checks what it returns."""

    root: Path

    def __post_init__(self) -> None:
        if not self.root.is_dir():
            raise DataError(f"data.root folder not found: {self.root}")

    def _optional(self, name: str, exts: tuple[str, ...]) -> list[Path]:
        folder = self.root / name
        return list_files(folder, exts) if folder.is_dir() else []

    def videos(self) -> list[Path]:
        """Unlabelled field footage in videos/."""
        return self._optional("videos", VIDEO_EXTS)

    def stills(self) -> list[Path]:
        """Unlabelled field photos in stills/ (optional)."""
        return self._optional("stills", IMAGE_EXTS)

    def background_videos(self) -> list[Path]:
        """Head-free footage in backgrounds/ (optional)."""
        return self._optional("backgrounds", VIDEO_EXTS)

    def background_photos(self) -> list[Path]:
        """Head-free photos in backgrounds/ (optional)."""
        return self._optional("backgrounds", IMAGE_EXTS)

    def annotated(self) -> list[PairPaths]:
        """The few hand-annotated pairs of annotated/{images,masks}."""
        return list_pairs(self.root / "annotated", "annotated")

    def gwhd(self, split: str) -> tuple[list[PairPaths], dict[str, str]]:
        """Pairs of gwhd/<split> and each stem's domain (from domains.csv, else 'all')."""
        folder = self.root / "gwhd" / split
        pairs = list_pairs(folder, f"gwhd/{split}")
        domains = {pair.stem: "all" for pair in pairs}
        table = folder / "domains.csv"
        if table.is_file():
            frame = pd.read_csv(table)
            if not {"file", "domain"} <= set(frame.columns):
                raise DataError(f"{table} needs the columns file,domain")
            for line, (file, domain) in enumerate(
                zip(frame["file"], frame["domain"], strict=True), start=2
            ):
                stem = inside(folder, file, table, line).stem
                if stem not in domains:
                    raise DataError(f"{table} names {file}, which has no image/mask pair")
                domains[stem] = str(domain)
        return pairs, domains


def read_scaled_pair(pair: PairPaths, short_side: int) -> tuple[np.ndarray, np.ndarray]:
    """Read a pair and scale it so its shorter side is `short_side`."""
    image, mask = read_pair(pair)
    return resize_short_side(image, short_side), resize_short_side(mask, short_side, mask=True)
