"""Segmentation models: the ImageNet input, the Dice + BCE loss, aligned random crops, seeded
splits, the optimisers, prediction at any size, and saving and loading."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from dvclive import Live

from pipeline.checkpoints import save_model
from pipeline.params import SegTrainParams
from pipeline.seg.segmentation import (
    IGNORE,
    IMAGENET_MEAN,
    IMAGENET_STD,
    FitRun,
    SegModelConfig,
    build_unet,
    fit,
    load_unet,
    make_optimizer,
    predict_list,
    predict_probs,
    random_crops,
    seg_loss,
    split_pairs,
    to_input,
)

CONFIG = SegModelConfig("mobilenet_v2", 2, [8, 8], size=16, scale=0.5)


def test_input_is_normalised_with_the_imagenet_statistics():
    images = np.zeros((1, 2, 3, 3), np.uint8)
    images[..., 0] = 255
    x = to_input(images)
    assert x.shape == (1, 3, 2, 3)
    expected = [(v - m) / s for v, m, s in zip((1, 0, 0), IMAGENET_MEAN, IMAGENET_STD, strict=True)]
    torch.testing.assert_close(x[0, :, 0, 0], torch.tensor(expected))


def test_the_loss_is_dice_plus_bce():
    target = torch.zeros(1, 1, 2, 2)
    target[0, 0, 0] = 1
    sure = torch.where(target > 0, 20.0, -20.0)
    assert seg_loss(sure, target).item() == pytest.approx(0.0, abs=1e-6)
    zero = torch.zeros(1, 1, 2, 2)  # p = 0.5 everywhere: BCE ln 2, Dice 1 - 2·1 / (2 + 2)
    assert seg_loss(zero, target).item() == pytest.approx(np.log(2) + 0.5, rel=1e-3)


def test_ignored_pixels_count_in_neither_loss_term():
    target = torch.tensor([[[[1.0, 0.0], [IGNORE, IGNORE]]]])
    logits = torch.tensor([[[[2.0, -1.0], [5.0, -7.0]]]])
    other = logits.clone()
    other[0, 0, 1] = torch.tensor([-3.0, 4.0])  # only the ignored pixels differ
    assert seg_loss(logits, target).item() == pytest.approx(seg_loss(other, target).item())
    kept = seg_loss(logits[..., :1, :], target[..., :1, :])  # the two valid pixels alone
    assert seg_loss(logits, target).item() == pytest.approx(kept.item(), rel=1e-6)


def test_random_crops_keep_image_and_mask_aligned():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (6, 12, 10, 3), dtype=np.uint8)
    masks = images[..., 0] > 128
    crop_images, crop_masks = random_crops(np.random.default_rng(1), images, masks, 4)
    assert crop_images.shape == (6, 4, 4, 3) and crop_masks.shape == (6, 4, 4)
    np.testing.assert_array_equal(crop_masks, crop_images[..., 0] > 128)
    again = random_crops(np.random.default_rng(1), images, masks, 4)
    np.testing.assert_array_equal(again[0], crop_images)
    _, crop_labels = random_crops(np.random.default_rng(1), images, labels_of(images), 4)
    assert crop_labels.dtype == np.uint8
    np.testing.assert_array_equal(crop_labels, labels_of(crop_images))


def labels_of(images: np.ndarray) -> np.ndarray:
    """0/1 masks with IGNORE pixels, read off the image's colours."""
    return np.where(images[..., 1] > 200, IGNORE, images[..., 0] > 128).astype(np.uint8)


def test_a_split_is_seeded_disjoint_and_complete():
    images = np.arange(10)[:, None, None, None].repeat(2, 1).astype(np.uint8)
    masks = images[..., 0] > 4
    (train, _), val = split_pairs(images, masks, 0.3, np.random.default_rng(0))
    assert len(val[0]) == 3 and len(train) == 7
    assert sorted([*train[:, 0, 0, 0], *val[0][:, 0, 0, 0]]) == list(range(10))
    (again, _), _ = split_pairs(images, masks, 0.3, np.random.default_rng(0))
    np.testing.assert_array_equal(again, train)
    assert split_pairs(images, masks, 0.0, np.random.default_rng(0))[1] is None


@pytest.mark.parametrize(
    ("optimizer", "kind"), [("sgd", torch.optim.SGD), ("adam", torch.optim.Adam)]
)
def test_the_optimiser_is_the_one_named(optimizer, kind):
    model = torch.nn.Linear(2, 1)
    opt = make_optimizer(model, SegTrainParams(optimizer=optimizer, lr=0.3, momentum=0.5))
    assert type(opt) is kind and opt.param_groups[0]["lr"] == 0.3


def test_predictions_have_the_images_size_whatever_it_is():
    torch.manual_seed(0)
    model = build_unet(CONFIG)
    rng = np.random.default_rng(0)
    odd = rng.integers(0, 256, (3, 13, 7, 3), dtype=np.uint8)
    probs = predict_probs(model, odd, batch_size=2)
    assert probs.shape == (3, 13, 7) and ((probs >= 0) & (probs <= 1)).all()
    np.testing.assert_allclose(predict_probs(model, odd[1:2], 1)[0], probs[1], atol=1e-6)
    mixed = [odd[0], rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), odd[2]]
    listed = predict_list(model, mixed, batch_size=4)
    assert [p.shape for p in listed] == [(13, 7), (8, 8), (13, 7)]
    np.testing.assert_allclose(listed[2], probs[2], atol=1e-6)


def test_flip_averaged_predictions_are_the_mean_over_the_four_flips_mapped_back():
    torch.manual_seed(0)
    model = build_unet(CONFIG)
    image = np.random.default_rng(1).integers(0, 256, (1, 16, 12, 3), dtype=np.uint8)
    plain = predict_probs(model, image, 1)[0]
    views = [
        predict_probs(model, np.ascontiguousarray(image[:, ::dy, ::dx]), 1)[0][::dy, ::dx]
        for dy in (1, -1)
        for dx in (1, -1)
    ]
    averaged = predict_probs(model, image, 1, flips=True)[0]
    np.testing.assert_allclose(averaged, np.mean(views, axis=0), atol=1e-6)
    assert np.abs(averaged - plain).max() > 1e-3  # a random net is not flip-invariant
    flipped = predict_probs(model, np.ascontiguousarray(image[:, :, ::-1]), 1, flips=True)[0]
    np.testing.assert_allclose(flipped[:, ::-1], averaged, atol=1e-5)  # but its average is
    listed = predict_list(model, [image[0]], 1, flips=True)[0]
    np.testing.assert_allclose(listed, averaged, atol=1e-6)


def test_a_saved_model_loads_with_its_config_and_weights(tmp_path):
    torch.manual_seed(0)
    model = build_unet(CONFIG)
    with torch.no_grad():
        next(model.parameters()).add_(1.0)  # not the initial weights
    save_model(model, CONFIG, tmp_path / "model")
    loaded, config = load_unet(tmp_path / "model")
    assert config == CONFIG and not loaded.training
    for key, value in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value, rtol=0, atol=0)


def test_a_last_batch_of_one_pair_is_dropped_not_fed_to_batchnorm(tmp_path):
    torch.manual_seed(0)
    model = build_unet(SegModelConfig("mobilenet_v2", 4, [16, 8, 8, 8], size=16))  # 1×1 bottleneck
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (9, 16, 16, 3), dtype=np.uint8)
    masks = images[..., 0] > 128
    p = SegTrainParams(size=16, epochs=1, batch_size=8, lr=1e-3, val_fraction=0.0)
    batches = []
    model.register_forward_pre_hook(lambda module, args: batches.append(len(args[0])))
    with Live(str(tmp_path / "live"), dvcyaml=False, save_dvc_exp=False) as live:
        fit(model, (images, masks), None, p, FitRun(0, live))  # a batch of 1 would raise here
    assert batches == [8]
