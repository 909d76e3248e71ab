"""Stage coherence: image–mask coherence of the generated pairs (labeler Dice on the generated
images, mask-fraction distribution against the training crops), logged with dvclive."""

from __future__ import annotations

import logging

import numpy as np

from pipeline import artifacts
from pipeline.datasets import load_packed, read_dataset
from pipeline.errors import run_stage
from pipeline.geometry import mask_fraction
from pipeline.params import load_params
from pipeline.seg.coherence import labeler_agreement, mask_fraction_histogram, mask_fraction_summary
from pipeline.seg.segmentation import load_unet
from pipeline.training import default_device, make_live

log = logging.getLogger(__name__)


def main() -> None:
    params = load_params()
    sizes = params.prepare
    images, masks = read_dataset(artifacts.GENERATED)
    model, _ = load_unet(artifacts.LABELER)
    model.to(default_device())
    scale = sizes.crop / sizes.sr_size
    counts = labeler_agreement(model, images, masks, scale, params.pseudo_label.batch_size)
    train = load_packed(artifacts.prepared("train", sizes.sr_size))
    training = np.array([mask_fraction(crop[..., 3]) for crop in train])
    generated = np.array([mask_fraction(mask) for mask in masks])
    summary = mask_fraction_summary(generated, training)
    with make_live(artifacts.live("coherence")) as live:
        live.log_metric("labeler/dice", counts.dice, plot=False)
        live.log_metric("labeler/iou", counts.iou, plot=False)
        for key, value in summary.items():
            live.log_metric(f"mask_fraction/{key}", value, plot=False)
        live.log_plot(
            "mask_fraction",
            mask_fraction_histogram(generated, training),
            x="mask_fraction",
            y=["generated", "training"],
            title="mask fraction of generated pairs and training crops",
            y_label="share of pairs",
        )
    log.info("labeler Dice on generated pairs %.3f; mask fraction %s", counts.dice, summary)


if __name__ == "__main__":
    run_stage(main)
