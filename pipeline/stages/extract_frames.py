"""Stage extract_frames: decode the field videos (and stills) into frames with a manifest."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from pipeline import artifacts
from pipeline.data.layout import RawLayout
from pipeline.data.video import decode_frames
from pipeline.errors import DataError, run_stage
from pipeline.files import atomic_dir
from pipeline.geometry import resize_short_side
from pipeline.images import read_rgb, write_rgb
from pipeline.params import load_params

log = logging.getLogger(__name__)


def main() -> None:
    params = load_params()
    p = params.extract_frames
    layout = RawLayout(Path(params.data.root))
    videos, stills = layout.videos(), layout.stills()
    if not videos and not stills:
        raise DataError(f"no field videos or stills under {layout.root} (videos/, stills/)")
    rows = []
    with atomic_dir(artifacts.FRAMES) as out:
        (out / "images").mkdir()
        for video in tqdm(videos, desc="videos"):
            frames, indices = decode_frames(video, p.size, every=p.every, fps=p.fps)
            for frame, index in zip(frames, indices, strict=True):
                frame_id = f"{video.stem}_{index:05d}"
                write_rgb(out / "images" / f"{frame_id}.png", frame)
                rows.append(
                    {
                        "id": frame_id,
                        "image": f"images/{frame_id}.png",
                        "source": str(video.relative_to(layout.root)),
                        "frame": index,
                    }
                )
        for still in tqdm(stills, desc="stills"):
            frame_id = f"still_{still.stem}"
            frame = resize_short_side(read_rgb(still), p.size)
            write_rgb(out / "images" / f"{frame_id}.png", frame)
            rows.append(
                {
                    "id": frame_id,
                    "image": f"images/{frame_id}.png",
                    "source": str(still.relative_to(layout.root)),
                    "frame": 0,
                }
            )
        manifest = pd.DataFrame(rows)
        if manifest["id"].duplicated().any():
            dup = manifest.loc[manifest["id"].duplicated(), "source"].iloc[0]
            raise DataError(f"two inputs give the same frame id; rename {dup}")
        manifest.to_csv(out / "manifest.csv", index=False)
    log.info(
        "extracted %d frames from %d videos and %d stills", len(rows), len(videos), len(stills)
    )


if __name__ == "__main__":
    run_stage(main)
