"""Pseudo-labelling: the fraction threshold rule and Najafian self-training rounds on frames."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from dvclive import Live

from pipeline.params import PseudoLabelParams, SegFitParams, SegTrainParams
from pipeline.seg import finetuning
from pipeline.seg.finetuning import round_labels
from pipeline.seg.pseudo_labeling import fraction_threshold, self_train_on_frames, threshold_of
from pipeline.seg.segmentation import IGNORE, FitRun, SegModelConfig, build_unet, predict_list

TINY = SegModelConfig("resnet18", 3, [16, 8, 8], size=16)


def test_the_fraction_threshold_covers_the_asked_share():
    rng = np.random.default_rng(0)
    probs = [rng.random((8, 8)).astype(np.float32), rng.random((4, 6)).astype(np.float32)]
    for fraction in (0.05, 0.12, 0.5):
        t = fraction_threshold(probs, fraction)
        covered = sum(int((p >= t).sum()) for p in probs) / sum(p.size for p in probs)
        assert covered == pytest.approx(fraction, abs=1 / 88)
    with pytest.raises(ValueError, match="mask fraction"):
        fraction_threshold(probs, 0.0)


def test_the_rule_picks_the_threshold():
    probs = [np.linspace(0, 1, 100, dtype=np.float32).reshape(10, 10)]
    assert threshold_of(probs, PseudoLabelParams(threshold=0.3), 0.2) == 0.3
    rule = PseudoLabelParams(threshold=0.3, threshold_rule="annotated_fraction")
    assert threshold_of(probs, rule, 0.2) == pytest.approx(0.8, abs=0.01)


def test_round_labels_ignore_the_pixels_near_the_threshold():
    probs = np.array([[0.05, 0.35, 0.45, 0.55, 0.65, 0.95]])
    np.testing.assert_array_equal(round_labels(probs, 0.5, 0.0), probs >= 0.5)
    labels = round_labels(probs, 0.5, 0.1)
    assert labels.dtype == np.uint8
    np.testing.assert_array_equal(labels, [[0, 0, IGNORE, IGNORE, 1, 1]])


@pytest.mark.parametrize("rounds", [0, 2])
def test_self_training_rounds_train_the_model_on_its_own_labels(tmp_path, rounds):
    torch.manual_seed(0)
    model = build_unet(TINY)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    frames = np.random.default_rng(1).integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
    p = PseudoLabelParams(rounds=rounds, epochs=1, threshold_rule="annotated_fraction")
    fit_p = SegTrainParams(size=16, batch_size=2, epochs=9, val_fraction=0.5)
    with Live(str(tmp_path / "live"), dvcyaml=False, save_dvc_exp=False) as live:
        self_train_on_frames(model, frames, p, fit_p, FitRun(0, live))
    changed = any(not torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert changed == (rounds > 0)


def test_the_rounds_label_at_the_fixed_threshold_whatever_the_rule(monkeypatch):
    torch.manual_seed(0)
    model = build_unet(TINY).eval()
    frames = np.random.default_rng(1).integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
    probs = np.stack(predict_list(model, list(frames), 2, False))
    threshold = float(np.quantile(probs, 0.7))  # a threshold that masks a third of the pixels
    seen = []
    monkeypatch.setattr(
        finetuning, "self_training_round", lambda m, f, masks, *a: seen.append(masks)
    )
    for rule in ("fixed", "annotated_fraction"):
        p = PseudoLabelParams(threshold=threshold, rounds=1, threshold_rule=rule)
        self_train_on_frames(model, frames, p, SegFitParams(size=16), FitRun(0))
    assert len(seen) == 2
    for masks in seen:
        np.testing.assert_array_equal(masks, probs >= threshold)
