"""synthset-arrange: a folder of pairs dealt into the raw layout, with a real panned video."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pipeline.data.arrange import arrange, main
from pipeline.data.layout import RawLayout
from pipeline.data.video import decode_frames
from pipeline.errors import DataError


@pytest.fixture
def pairs(tmp_path):
    root = tmp_path / "pairs"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rng = np.random.default_rng(0)
    for i in range(9):
        image = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
        Image.fromarray(image).save(root / "images" / f"p{i}.jpg")
        Image.fromarray((rng.random((64, 64)) > 0.8).astype(np.uint8)).save(
            root / "masks" / f"p{i}.png"
        )
    return root


def test_every_pair_lands_in_exactly_one_place(pairs, tmp_path):
    counts = arrange(pairs, tmp_path / "raw", 2, 2, 2, 2, 32, seed=1)
    assert counts == {
        "annotated": 2,
        "gwhd/finetune": 2,
        "gwhd/test": 2,
        "video_photos": 2,
        "stills": 1,
    }
    layout = RawLayout(tmp_path / "raw")
    groups = [layout.annotated(), layout.gwhd("finetune")[0], layout.gwhd("test")[0]]
    stems = [p.stem for g in groups for p in g] + [p.stem for p in layout.stills()]
    assert len(stems) == len(set(stems)) == 7
    (video,) = layout.videos()
    frames, _ = decode_frames(video, 32)
    assert frames.shape == (17, 32, 32, 3)  # (2 photos × 32 px − 32) / 2 px + 1


def test_too_few_pairs_is_an_error(pairs, tmp_path):
    with pytest.raises(DataError, match="has 9 pairs, the split asks for 12"):
        arrange(pairs, tmp_path / "raw", 3, 3, 3, 3, 32, seed=0)
    assert not (tmp_path / "raw").exists()


def test_cli_rejects_zero_counts(pairs, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main([str(pairs), str(tmp_path / "raw"), "--test", "0"])
    assert "--test must be at least 1" in capsys.readouterr().err


@pytest.mark.parametrize(("stills", "expected"), [(None, 3), (2, 2), (0, 0)])
def test_cli_caps_the_stills(pairs, tmp_path, stills, expected):
    cap = [] if stills is None else ["--stills", str(stills)]
    counts = ["--annotated", "1", "--finetune", "2", "--test", "1", "--video-photos", "2"]
    main([str(pairs), str(tmp_path / "raw"), *counts, "--size", "32", *cap])
    assert len(RawLayout(tmp_path / "raw").stills()) == expected


def test_cli_rejects_negative_stills(pairs, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main([str(pairs), str(tmp_path / "raw"), "--stills", "-1"])
    assert "--stills must not be negative" in capsys.readouterr().err


def test_a_non_empty_target_is_replaced_only_with_force(pairs, tmp_path, capsys):
    target = tmp_path / "raw"
    target.mkdir()
    (target / "mine.txt").write_text("keep me")
    counts = ["--annotated", "1", "--finetune", "2", "--test", "1", "--video-photos", "2"]
    with pytest.raises(SystemExit) as exit_:
        main([str(pairs), str(target), *counts, "--size", "32"])
    assert exit_.value.code == 2
    assert "exists and is not empty" in capsys.readouterr().err
    assert [p.name for p in target.iterdir()] == ["mine.txt"]
    main([str(pairs), str(target), *counts, "--size", "32", "--force"])
    assert not (target / "mine.txt").exists()
    assert len(RawLayout(target).annotated()) == 1
