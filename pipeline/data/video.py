"""Video encoding and decoding with ffmpeg-python (binary from PATH, else from imageio-ffmpeg)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import ffmpeg
import numpy as np

from pipeline.errors import DataError
from pipeline.files import atomic_file
from pipeline.geometry import short_side_size

_DIMS = re.compile(r"(?<![\w/])([1-9]\d*)x([1-9]\d*)(?!\w)")


@cache
def ffmpeg_exe() -> str:
    """The ffmpeg binary: the one on PATH, else the one shipped in the imageio-ffmpeg wheel."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _stderr(err: ffmpeg.Error) -> str:
    lines = (err.stderr or b"").decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else "ffmpeg failed"


def encode_video(path: Path, frames: Iterable[np.ndarray], fps: float, crf: int = 20) -> None:
    """Encode uint8 H×W×3 frames (even H and W) as H.264 into `path`, atomically."""
    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        raise ValueError(f"no frames to encode into {path}")
    height, width = first.shape[:2]
    with atomic_file(path) as tmp:
        process = (
            ffmpeg.input("pipe:", format="rawvideo", pix_fmt="rgb24", s=f"{width}x{height}", r=fps)
            .output(str(tmp), vcodec="libx264", pix_fmt="yuv420p", crf=crf, preset="fast")
            .global_args("-loglevel", "error", "-threads", "1")
            .overwrite_output()
            .run_async(cmd=ffmpeg_exe(), pipe_stdin=True, pipe_stderr=True)
        )
        for frame in (first, *frames):
            if frame.shape != first.shape:
                process.stdin.close()
                process.wait()
                raise ValueError(f"frame of shape {frame.shape} differs from {first.shape}")
            process.stdin.write(np.ascontiguousarray(frame, dtype=np.uint8).tobytes())
        process.stdin.close()
        stderr = process.stderr.read().decode(errors="replace")
        if process.wait() != 0:
            raise RuntimeError(f"ffmpeg could not encode {path}: {stderr.strip()}")


def probe_size(path: Path) -> tuple[int, int]:
    """Width and height of the first video stream, read by decoding one frame's header."""
    try:
        _, err = (
            ffmpeg.input(str(path))
            .output("-", format="null", vframes=1)
            .global_args("-hide_banner")
            .run(cmd=ffmpeg_exe(), capture_stdout=True, capture_stderr=True)
        )
    except ffmpeg.Error as error:
        raise DataError(f"cannot decode video {path}: {_stderr(error)}") from None
    for line in err.decode(errors="replace").splitlines():
        found = _DIMS.search(line) if "Video:" in line else None
        if found:
            return int(found[1]), int(found[2])
    raise DataError(f"no video stream in {path}")


def decode_frames(
    path: Path, short_side: int, every: int = 1, fps: float = 0.0
) -> tuple[np.ndarray, list[int]]:
    """Decode a video to uint8 N×H×W×3 frames scaled (bicubic) so the shorter side is `short_side`.

    Keeps every `every`-th frame, or resamples to `fps` frames per second when fps > 0. Returns the
    frames and, for each, its index in the source (every-k mode) or in the resampled stream.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"video not found: {path}")
    width, height = short_side_size(*probe_size(path), short_side)
    stream = ffmpeg.input(str(path))
    if fps > 0:
        stream = stream.filter("fps", fps=fps)
    elif every > 1:
        stream = stream.filter("select", f"not(mod(n,{every}))")
    stream = stream.filter("scale", width, height, flags="bicubic")
    try:
        out, _ = (
            stream.output("pipe:", format="rawvideo", pix_fmt="rgb24", fps_mode="passthrough")
            .global_args("-loglevel", "error")
            .run(cmd=ffmpeg_exe(), capture_stdout=True, capture_stderr=True)
        )
    except ffmpeg.Error as error:
        raise DataError(f"cannot decode video {path}: {_stderr(error)}") from None
    frames = np.frombuffer(out, np.uint8)
    if frames.size == 0 or frames.size % (width * height * 3):
        raise DataError(f"no complete frame decoded from video {path}")
    frames = frames.reshape(-1, height, width, 3)
    step = 1 if fps > 0 else max(every, 1)
    return frames, [i * step for i in range(len(frames))]
