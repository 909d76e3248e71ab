"""Stage coherence: image–mask coherence of the generated pairs (labeler Dice on the generated
images, mask-fraction distribution against the training crops), logged with dvclive."""

from __future__ import annotations

import logging
from pathlib import Path

from pipeline.coherence import labeler_agreement, mask_fraction_histogram, mask_fraction_summary
from pipeline.errors import run_stage
from pipeline.io import load_packed, read_dataset
from pipeline.params import load_params
from pipeline.segmentation import load_model
from pipeline.training import default_device, make_live

log = logging.getLogger(__name__)

GENERATED = Path("data/generated")
LABELER = Path("models/labeler")
PREPARED = Path("data/prepared")
LIVE = Path("dvclive/coherence")


def main() -> None:
    params = load_params()
    sizes = params.prepare
    images, masks = read_dataset(GENERATED)
    model, _ = load_model(LABELER)
    model.to(default_device())
    scale = sizes.crop / sizes.sr_size
    counts = labeler_agreement(model, images, masks, scale, params.pseudo_label.batch_size)
    train = load_packed(PREPARED / f"train_{sizes.sr_size}.npy")
    training = (train[..., 3] > 0).reshape(len(train), -1).mean(axis=1)
    generated = masks.reshape(len(masks), -1).mean(axis=1)
    summary = mask_fraction_summary(generated, training)
    with make_live(LIVE) as live:
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
