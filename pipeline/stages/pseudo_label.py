"""Stage pseudo_label: the labeler labels every extracted frame (sigmoid >= threshold)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from tqdm import tqdm

from pipeline.errors import run_stage
from pipeline.figures import pair_grid
from pipeline.io import PairWriter, atomic_dir, read_manifest, read_rgb
from pipeline.params import load_params
from pipeline.segmentation import load_model, predict_list
from pipeline.training import default_device

log = logging.getLogger(__name__)

FRAMES = Path("data/frames")
MODEL = Path("models/labeler")
OUT = Path("data/pseudo")
GRID = Path("reports/pseudo_label.png")


def main() -> None:
    p = load_params().pseudo_label
    manifest = read_manifest(FRAMES)
    model, _ = load_model(MODEL)
    model.to(default_device())
    show = set(np.linspace(0, len(manifest) - 1, min(8, len(manifest))).astype(int).tolist())
    shown = []
    with atomic_dir(OUT) as out:
        writer = PairWriter(out)
        for start in tqdm(range(0, len(manifest), p.batch_size), desc="pseudo-label"):
            rows = manifest.iloc[start : start + p.batch_size]
            images = [read_rgb(FRAMES / path) for path in rows["image"]]
            probs = predict_list(model, images, p.batch_size)
            items = zip(rows.itertuples(), images, probs, strict=True)
            for k, (row, image, prob) in enumerate(items):
                mask = prob >= p.threshold
                writer.add(
                    row.id,
                    image,
                    mask,
                    source=row.source,
                    frame=row.frame,
                    checkpoint=str(MODEL),
                    threshold=p.threshold,
                )
                if start + k in show:
                    shown.append((image, mask))
        labelled = writer.close()
    log.info(
        "labelled %d frames, mean mask fraction %.3f",
        len(labelled),
        float(labelled["mask_fraction"].mean()),
    )
    pair_grid(GRID, [s[0] for s in shown], [s[1] for s in shown], suptitle="pseudo-labels")


if __name__ == "__main__":
    run_stage(main)
