"""Benchmark (not a test): the prepare stage against a plain per-file PIL loop, as two whole
commands for farm-bench to pair (target: ours at least 2× faster).

    python benchmarks/prepare_baseline.py make /tmp/prep --profile paper   # workspace, 40 frames
    farm-bench -n 3 --timeout 900 -- python benchmarks/prepare_baseline.py ours /tmp/prep \\
        --vs 'python benchmarks/prepare_baseline.py pngs /tmp/prep'

`make` writes a workspace: the profile's params.yaml and a pseudo-labelled folder `data/pseudo`
of 1024² frames (paper) or 256² frames (demo) with masks. `ours` runs the prepare stage there
(crops packed per split and size as .npy, crops.csv, the preview grid). `pngs` is the usual
script on the same frames, crop positions and split: PIL opens each frame, and for every crop and
size crops, resizes (bilinear image, nearest mask) and saves an image and a mask PNG, then writes
a CSV of the files.
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from pipeline.data.crops import crop_positions, split_by_source
from pipeline.datasets import read_manifest
from pipeline.params import load_params
from pipeline.seeding import stage_rng

PROFILES = {"demo": (Path("params.yaml"), 256), "paper": (Path("profiles/paper.yaml"), 1024)}


def make(workspace: Path, profile: str, frames: int) -> None:
    """Frames of a smooth random texture with blob masks, as a pseudo-labelled folder."""
    params_file, side = PROFILES[profile]
    pseudo = workspace / "data/pseudo"
    for sub in ("images", "masks"):
        (pseudo / sub).mkdir(parents=True, exist_ok=True)
    shutil.copy(params_file, workspace / "params.yaml")
    rng = np.random.default_rng(0)
    rows = []
    for i in range(frames):
        coarse = rng.integers(0, 256, (side // 16, side // 16, 3), dtype=np.uint8)
        image = Image.fromarray(coarse).resize((side, side), Image.Resampling.BICUBIC)
        mask = np.asarray(image)[..., 1] > 160
        name = f"video_{i // 20:02d}_{i % 20:05d}.png"
        image.save(pseudo / "images" / name)
        Image.fromarray(mask.astype(np.uint8) * 255).save(pseudo / "masks" / name)
        rows.append(
            (name[:-4], f"images/{name}", f"masks/{name}", f"videos/{name[:8]}.mp4", i % 20)
        )
    pd.DataFrame(rows, columns=["id", "image", "mask", "source", "frame"]).to_csv(
        pseudo / "manifest.csv", index=False
    )


def pngs(workspace: Path) -> None:
    """The plain way: one PNG per crop, size and channel group, and a CSV naming them."""
    params = load_params(workspace / "params.yaml")
    p, seed = params.prepare, params.seed
    pseudo, out = workspace / "data/pseudo", workspace / "data/prepared_pngs"
    shutil.rmtree(out, ignore_errors=True)
    manifest = read_manifest(pseudo)
    splits = split_by_source(
        manifest, p.val_fraction, p.segment, stage_rng(seed, "prepare", "split")
    ).set_index("id")
    rows = []
    for row in manifest.itertuples():
        image = Image.open(pseudo / row.image).convert("RGB")
        mask = Image.open(pseudo / row.mask).convert("L")
        rng = stage_rng(seed, "prepare", row.id)
        positions = crop_positions(rng, mask.height, mask.width, p.crop, p.crops_per_frame)
        split = splits.at[row.id, "split"]
        for k, (y, x) in enumerate(positions):
            box = (int(x), int(y), int(x) + p.crop, int(y) + p.crop)
            for size in sorted({p.gen_size, p.sr_size}):
                folder = out / split / str(size)
                os.makedirs(folder / "images", exist_ok=True)
                os.makedirs(folder / "masks", exist_ok=True)
                name = f"{row.id}_{k}.png"
                image.crop(box).resize((size, size), Image.Resampling.BILINEAR).save(
                    folder / "images" / name
                )
                mask.crop(box).resize((size, size), Image.Resampling.NEAREST).save(
                    folder / "masks" / name
                )
                rows.append((split, size, name, y, x))
    pd.DataFrame(rows, columns=["split", "size", "file", "y", "x"]).to_csv(
        out / "crops.csv", index=False
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("make", "ours", "pngs"))
    parser.add_argument("workspace", type=Path)
    parser.add_argument("--profile", choices=list(PROFILES), default="paper")
    parser.add_argument("--frames", type=int, default=40)
    args = parser.parse_args()
    if args.mode == "make":
        make(args.workspace, args.profile, args.frames)
    elif args.mode == "pngs":
        pngs(args.workspace)
    else:
        os.chdir(args.workspace)
        from pipeline.stages import prepare

        prepare.main()


if __name__ == "__main__":
    main()
