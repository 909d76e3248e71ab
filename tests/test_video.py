"""ffmpeg round trips: encode a known clip with H.264, decode it back, compare frames."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from pipeline.data.video import decode_frames, encode_video, probe_size
from pipeline.errors import DataError
from tests.conftest import ROOT

N_FRAMES = 12


def _clip() -> list[np.ndarray]:
    """Smooth frames (H.264-friendly) whose mean brightness encodes the frame index."""
    yy, xx = np.mgrid[0:96, 0:128]
    frames = []
    for k in range(N_FRAMES):
        frame = np.empty((96, 128, 3), np.uint8)
        frame[..., 0] = 20 + 18 * k
        frame[..., 1] = (xx * 2).clip(0, 255)
        frame[..., 2] = (yy * 2).clip(0, 255)
        frames.append(frame)
    return frames


@pytest.fixture(scope="module")
def clip_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    encode_video(path, _clip(), fps=12, crf=10)
    return path


def test_round_trip_keeps_every_frame(clip_path):
    assert probe_size(clip_path) == (128, 96)
    frames, indices = decode_frames(clip_path, short_side=96)
    assert frames.shape == (N_FRAMES, 96, 128, 3)
    assert indices == list(range(N_FRAMES))
    for got, want in zip(frames, _clip(), strict=True):
        assert np.abs(got.astype(int) - want).mean() < 3


def test_every_kth_frame_is_the_right_frame(clip_path):
    frames, indices = decode_frames(clip_path, short_side=48, every=5)
    assert indices == [0, 5, 10]
    assert frames.shape == (3, 48, 64, 3)
    for got, k in zip(frames, indices, strict=True):
        want = np.asarray(Image.fromarray(_clip()[k]).resize((64, 48), Image.Resampling.BICUBIC))
        assert np.abs(got.astype(int) - want).mean() < 4
        assert abs(float(got[..., 0].mean()) - (20 + 18 * k)) < 4


def test_a_target_fps_keeps_that_many_frames_per_second(clip_path):
    frames, _ = decode_frames(clip_path, short_side=48, fps=4)
    assert len(frames) == 4


@pytest.mark.parametrize("content", [b"", b"not a video at all" * 50])
def test_corrupt_or_empty_video_names_the_file(tmp_path, content):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(content)
    with pytest.raises(DataError, match="bad.mp4"):
        decode_frames(bad, 64)


def test_truncated_video_names_the_file(tmp_path, clip_path):
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(clip_path.read_bytes()[:2000])
    with pytest.raises(DataError, match="cut.mp4"):
        decode_frames(cut, 64)


def test_extract_frames_stage_stops_on_a_corrupt_video(tmp_path, smoke_params, write_params):
    raw = tmp_path / "raw"
    (raw / "videos").mkdir(parents=True)
    (raw / "videos" / "broken.mkv").write_bytes(b"\x00" * 4096)
    smoke_params["data"]["root"] = str(raw)
    write_params(smoke_params)
    (tmp_path / "data/frames").mkdir(parents=True)
    (tmp_path / "data/frames/keep.txt").write_text("earlier output")
    run = subprocess.run(
        [sys.executable, "-m", "pipeline.stages.extract_frames"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
    )
    assert run.returncode == 2
    assert "broken.mkv" in run.stderr
    assert "Traceback" not in run.stderr
    assert (tmp_path / "data/frames/keep.txt").read_text() == "earlier output"
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["frames"]


def test_encoding_a_clip_twice_gives_the_same_bytes(tmp_path):
    for name in ("a.mp4", "b.mp4"):
        encode_video(tmp_path / name, _clip(), fps=12)
    assert (tmp_path / "a.mp4").read_bytes() == (tmp_path / "b.mp4").read_bytes()
