"""Stage evaluate (one per evaluated model, via dvc.yaml `foreach`):

    python -m pipeline.stages.evaluate <model name> <model folder>

Scores one model of a Table 1 cell on the GWHD test quadrants; writes dvclive/evaluate_<name>/
(Dice, IoU, precision, recall and the predicted and annotated mask fractions, pooled over the
pixels; Dice per domain as a plot).
"""

from __future__ import annotations

import argparse
import functools
import logging
from pathlib import Path

from pipeline import artifacts
from pipeline.data.layout import RawLayout
from pipeline.errors import run_stage
from pipeline.geometry import predict_at_scale
from pipeline.params import load_params
from pipeline.seg.evaluation import load_test_crops, score
from pipeline.seg.segmentation import load_unet, predict_list
from pipeline.training import default_device, make_live

log = logging.getLogger(__name__)


def main() -> None:
    parser = argparse.ArgumentParser(description="score one model on the GWHD test crops")
    parser.add_argument("name")
    parser.add_argument("model", type=Path)
    args = parser.parse_args()
    params = load_params()
    p, size = params.evaluate, params.prepare.sr_size
    crops = load_test_crops(RawLayout(Path(params.data.root)), params.extract_frames.size, size)
    model, config = load_unet(args.model)
    model.to(default_device())
    predict = functools.partial(predict_list, model, batch_size=p.batch_size)
    probs = predict_at_scale(predict, crops.images, config.scale, (size, size))
    counts = score(probs, crops.masks, crops.domains, p.threshold)
    overall = counts["overall"]
    with make_live(artifacts.evaluation(args.name)) as live:
        live.log_params({"test_crops": len(crops.images), "size": size, "model": str(args.model)})
        live.log_metric("dice", overall.dice, plot=False)
        live.log_metric("iou", overall.iou, plot=False)
        for name in ("precision", "recall", "mask_fraction", "target_mask_fraction"):
            live.log_metric(name, getattr(overall, name), plot=False)
        per_domain = [
            {"domain": domain, "dice": c.dice}
            for domain, c in sorted(counts.items())
            if domain != "overall"
        ]
        live.log_plot(
            "domains",
            per_domain,
            x="dice",
            y="domain",
            template="bar_horizontal",
            title=f"{args.name}: Dice per domain",
        )
    log.info(
        "%s: dice %.3f iou %.3f, mask fraction %.3f (annotated %.3f)",
        args.name,
        overall.dice,
        overall.iou,
        overall.mask_fraction,
        overall.target_mask_fraction,
    )


if __name__ == "__main__":
    run_stage(main)
