"""Stage agree: the teacher's agreement with every generated pair, and the pairs kept for training.

Scores each generated pair (data/generated) by the Dice of the teacher (models/pseudo_labeler)
against its mask, at the teacher's scale and at the threshold its pseudo-labels were cut at
(data/pseudo), and the training crops (data/prepared) the same way;
keeps the pairs whose Dice reaches the `agree.quantile` quantile of the crops' (0 keeps all).
Writes data/agreed (the kept pairs without their low-resolution versions, with a `teacher_dice`
manifest column) and dvclive/agree.
"""

from __future__ import annotations

import logging
import shutil

import numpy as np
import pandas as pd

from pipeline import artifacts
from pipeline.datasets import load_packed, read_dataset, read_manifest
from pipeline.errors import DataError, run_stage
from pipeline.files import atomic_dir
from pipeline.params import load_params
from pipeline.seg.agreement import agreement_threshold, teacher_dice
from pipeline.seg.segmentation import load_unet
from pipeline.training import default_device, make_live

log = logging.getLogger(__name__)


def labelling_threshold(pseudo: pd.DataFrame) -> float:
    """The one threshold the pseudo-labels of data/pseudo were cut at."""
    values = pseudo["threshold"].unique()
    if len(values) != 1:
        raise DataError(f"{artifacts.PSEUDO} holds labels cut at {len(values)} thresholds, not one")
    return float(values[0])


def main() -> None:
    params = load_params()
    p, sizes = params.agree, params.prepare
    manifest = read_manifest(artifacts.GENERATED)
    images, masks = read_dataset(artifacts.GENERATED)
    crops = load_packed(artifacts.prepared("train", sizes.sr_size))
    model, config = load_unet(artifacts.PSEUDO_LABELER)
    model.to(default_device())
    scale = config.scale * sizes.crop / sizes.sr_size
    cut = labelling_threshold(read_manifest(artifacts.PSEUDO))
    generated = teacher_dice(model, images, masks, scale, p.batch_size, cut)
    crop_images = np.asarray(crops[..., :3])
    training = teacher_dice(model, crop_images, crops[..., 3], scale, p.batch_size, cut)
    threshold = agreement_threshold(training, p.quantile)
    keep = generated >= threshold
    if not keep.any():
        raise DataError(
            f"no generated pair reaches the teacher Dice {threshold:.3f} of agree.quantile "
            f"{p.quantile}: lower it"
        )
    lowres = [c for c in ("lowres_image", "lowres_mask") if c in manifest]  # not carried over
    kept = manifest.drop(columns=lowres).assign(teacher_dice=np.round(generated, 6))[keep]
    with atomic_dir(artifacts.AGREED) as out:
        for folder in ("images", "masks"):
            (out / folder).mkdir()
        for row in kept.itertuples():
            for path in (row.image, row.mask):
                shutil.copyfile(artifacts.GENERATED / path, out / path)
        kept.to_csv(out / "manifest.csv", index=False)
    with make_live(artifacts.live("agree")) as live:
        for key, value in {
            "threshold": max(threshold, 0.0),
            "labelling_threshold": cut,
            "kept": float(keep.mean()),
            "teacher_dice/generated": float(generated.mean()),
            "teacher_dice/kept": float(generated[keep].mean()),
            "teacher_dice/training": float(training.mean()),
        }.items():
            live.log_metric(key, value, plot=False)
    log.info(
        "kept %d of %d generated pairs (teacher Dice >= %.3f); mean teacher Dice %.3f generated, "
        "%.3f training crops",
        keep.sum(),
        len(keep),
        threshold,
        generated.mean(),
        training.mean(),
    )


if __name__ == "__main__":
    run_stage(main)
