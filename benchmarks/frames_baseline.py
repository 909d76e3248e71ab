"""Benchmark (not a test): extract_frames' decoding against the plain frame-by-frame way, as two
whole commands for farm-bench to pair (target: ours at least 2× faster).

    python benchmarks/frames_baseline.py make /tmp/clip.mp4      # a 1024² 100-frame H.264 clip
    farm-bench -n 5 --timeout 900 -- python benchmarks/frames_baseline.py ours /tmp/clip.mp4 \\
        --vs 'python benchmarks/frames_baseline.py pngs /tmp/clip.mp4'

`ours` is pipeline.data.video.decode_frames: one ffmpeg process selects every 2nd frame, scales
it to a 512 short side and pipes raw RGB. `pngs` is the usual script: ffmpeg writes every frame
as a PNG, then PIL opens every 2nd, resizes it to the same size (bicubic) and makes an array.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from pipeline.data.video import decode_frames, encode_video, ffmpeg_exe
from pipeline.geometry import short_side_size

SIZE, EVERY = 512, 2


def make(path: Path, side: int = 1024, frames: int = 100) -> None:
    """A clip panning across a smooth random texture (compresses like footage, not like noise)."""
    rng = np.random.default_rng(0)
    coarse = rng.integers(0, 256, (side // 16, side // 4, 3), dtype=np.uint8)
    texture = np.asarray(Image.fromarray(coarse).resize((side * 4, side), Image.BICUBIC))
    step = (texture.shape[1] - side) // frames
    encode_video(path, (texture[:, i * step : i * step + side] for i in range(frames)), fps=10)


def pngs(path: Path) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        command = [ffmpeg_exe(), "-loglevel", "error", "-i", str(path), f"{tmp}/%05d.png"]
        subprocess.run(command, check=True)
        files = sorted(Path(tmp).glob("*.png"))[::EVERY]
        first = Image.open(files[0])
        size = short_side_size(*first.size, SIZE)
        return np.stack([np.asarray(Image.open(f).resize(size, Image.BICUBIC)) for f in files])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("make", "ours", "pngs"))
    parser.add_argument("video", type=Path)
    parser.add_argument("--side", type=int, default=1024, help="make: the clip's frame side (px)")
    parser.add_argument("--frames", type=int, default=100, help="make: the clip's frames")
    args = parser.parse_args()
    if args.mode == "make":
        make(args.video, args.side, args.frames)
        return
    frames = decode_frames(args.video, SIZE, every=EVERY)[0] if args.mode == "ours" else None
    frames = pngs(args.video) if frames is None else frames
    print(args.mode, frames.shape)


if __name__ == "__main__":
    main()
