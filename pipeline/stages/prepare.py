"""Stage prepare: seeded crops of the pseudo-labelled frames, split by source segment, packed per
split and resolution."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
from tqdm import tqdm

from pipeline import artifacts
from pipeline.data.crops import frame_crops, split_by_source
from pipeline.datasets import read_manifest
from pipeline.errors import run_stage
from pipeline.figures import pair_grid
from pipeline.files import atomic_dir
from pipeline.images import reader_threads
from pipeline.params import load_params
from pipeline.seeding import stage_rng

log = logging.getLogger(__name__)


def main() -> None:
    params = load_params()
    p, seed = params.prepare, params.seed
    manifest = read_manifest(artifacts.PSEUDO)
    splits = split_by_source(
        manifest, p.val_fraction, p.segment, stage_rng(seed, "prepare", "split")
    ).set_index("id")
    sizes = sorted({p.gen_size, p.sr_size})
    packs: dict[tuple[str, int], list[np.ndarray]] = {
        (s, size): [] for s in ("train", "val") for size in sizes
    }
    frames = list(manifest.itertuples())

    def crops(row) -> tuple[np.ndarray, dict[int, np.ndarray]]:
        rng = stage_rng(seed, "prepare", row.id)
        return frame_crops(
            artifacts.PSEUDO / row.image,
            artifacts.PSEUDO / row.mask,
            rng,
            p.crop,
            p.crops_per_frame,
            sizes,
        )

    with ThreadPoolExecutor(reader_threads()) as pool:  # in frame order, whatever the threads
        cropped = list(tqdm(pool.map(crops, frames), total=len(frames), desc="crops"))
    rows = []
    for row, (positions, packed) in zip(frames, cropped, strict=True):
        split, segment = splits.at[row.id, "split"], splits.at[row.id, "segment"]
        for size in sizes:
            packs[split, size].append(packed[size])
        rows += [
            {
                "frame": row.id,
                "source": row.source,
                "segment": segment,
                "split": split,
                "y": y,
                "x": x,
            }
            for y, x in positions
        ]
    with atomic_dir(artifacts.PREPARED) as out:
        for (split, size), arrays in packs.items():
            np.save(out / f"{split}_{size}.npy", np.concatenate(arrays))
        pd.DataFrame(rows).to_csv(out / "crops.csv", index=False)
    counts = splits["split"].value_counts()
    log.info(
        "%d train and %d val frames (%d source segments), %d crops each",
        counts.get("train", 0),
        counts.get("val", 0),
        splits["segment"].nunique(),
        p.crops_per_frame,
    )
    shown = np.concatenate(packs["train", p.sr_size])[:: max(1, len(rows) // 8)][:8]
    pair_grid(
        artifacts.PREPARE_GRID,
        [c[..., :3] for c in shown],
        [c[..., 3] for c in shown],
        suptitle=f"prepared {p.sr_size}px training crops",
    )


if __name__ == "__main__":
    run_stage(main)
