"""Stage demo_field: write the procedural wheat-field world in the raw input layout."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import artifacts
from pipeline.data.demo_field import DOMAINS, Domain, render_field
from pipeline.data.video import encode_video
from pipeline.datasets import write_pair
from pipeline.errors import run_stage
from pipeline.figures import pair_grid
from pipeline.files import atomic_dir
from pipeline.params import DemoFieldParams, load_params
from pipeline.seeding import stage_rng

log = logging.getLogger(__name__)


def pan_frames(strip: np.ndarray, count: int) -> list[np.ndarray]:
    """Square frames of a camera moving at constant speed along a field strip."""
    size, length = strip.shape[:2]
    xs = np.linspace(0, length - size, count).round().astype(int)
    return [strip[:, x : x + size] for x in xs]


def write_videos(root: Path, p: DemoFieldParams, seed: int, domains: list[Domain]) -> None:
    """Field videos (with heads) and background-only videos of the home-field domains.

    The strip's short side is the frame size, so heads in the video frames have the same size in
    pixels as in the annotated frames (the renderer scales heads with the short side).
    """
    count = round(p.seconds * p.fps)
    for folder, n, heads in (
        ("videos", p.videos, True),
        ("backgrounds", p.background_videos, False),
    ):
        for i in range(n):
            rng = stage_rng(seed, "demo_field", folder, i)
            strip, _ = render_field(rng, domains[i % len(domains)], p.size, p.canvas, heads)
            frames = pan_frames(strip, count)
            encode_video(root / folder / f"{folder[:-1]}_{i:02d}.mp4", frames, p.fps, p.crf)


def write_gwhd(root: Path, split: str, per_domain: int, p: DemoFieldParams, seed: int) -> list:
    """One GWHD-style split: `per_domain` annotated images per domain plus domains.csv."""
    firsts, rows = [], []
    for d, domain in enumerate(DOMAINS):
        for j in range(per_domain):
            rng = stage_rng(seed, "demo_field", split, d, j)
            image, mask = render_field(rng, domain, p.gwhd_size, p.gwhd_size)
            name = f"{domain.name}_{j:02d}"
            write_pair(root / "gwhd" / split, name, image, mask)
            rows.append({"file": f"{name}.png", "domain": domain.name})
            if j == 0:
                firsts.append((domain.name, image, mask))
    pd.DataFrame(rows).to_csv(root / "gwhd" / split / "domains.csv", index=False)
    return firsts


def main() -> None:
    params = load_params()
    p, seed = params.demo_field, params.seed
    home = [DOMAINS[0], DOMAINS[7]]
    with atomic_dir(artifacts.DEMO) as root:
        write_videos(root, p, seed, home)
        for i in range(p.annotated):
            rng = stage_rng(seed, "demo_field", "annotated", i)
            pair = render_field(rng, home[i % len(home)], p.size, p.size)
            write_pair(root / "annotated", f"annotated_{i:02d}", *pair)
        write_gwhd(root, "finetune", p.finetune_per_domain, p, seed)
        firsts = write_gwhd(root, "test", p.test_per_domain, p, seed)
        log.info("wrote the demo field world to %s", artifacts.DEMO)
    shown = firsts[:: max(1, len(firsts) // 9)][:9]
    pair_grid(
        artifacts.DEMO_FIELD_GRID,
        [img for _, img, _ in shown],
        [mask for _, _, mask in shown],
        [name for name, _, _ in shown],
        "demo field: GWHD-style test domains",
    )


if __name__ == "__main__":
    run_stage(main)
