"""Stage evaluate (one per Table 1 row, via dvc.yaml `foreach`):

    python -m pipeline.stages.evaluate <row> <base model folder>

Scores the row's three models — the base model (trained on synthetic data only), its GWHD
fine-tune and its full fine-tune (models/seg/<row>_gwhd, models/seg/<row>_all) — on the GWHD test
quadrants; writes dvclive/evaluate_<row>/ (Dice and IoU per column, Dice per domain).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from dvclive import Live

from pipeline.errors import run_stage
from pipeline.evaluation import load_test_crops, predict_at_scale, score
from pipeline.layout import RawLayout
from pipeline.params import load_params
from pipeline.report import COLUMNS
from pipeline.segmentation import load_model
from pipeline.training import default_device

log = logging.getLogger(__name__)


def main() -> None:
    parser = argparse.ArgumentParser(description="score one Table 1 row on the GWHD test crops")
    parser.add_argument("row")
    parser.add_argument("base", type=Path)
    args = parser.parse_args()
    params = load_params()
    p, size = params.evaluate, params.prepare.sr_size
    crops = load_test_crops(RawLayout(Path(params.data.root)), params.extract_frames.size, size)
    folders = dict(
        zip(
            COLUMNS,
            (args.base, Path(f"models/seg/{args.row}_gwhd"), Path(f"models/seg/{args.row}_all")),
            strict=True,
        )
    )
    with Live(f"dvclive/evaluate_{args.row}", dvcyaml=False, save_dvc_exp=False) as live:
        live.log_params({"test_crops": len(crops.images), "size": size})
        for column, folder in folders.items():
            model, config = load_model(folder)
            model.to(default_device())
            probs = predict_at_scale(model, config, crops.images, size, p.batch_size)
            counts = score(probs, crops.masks, crops.domains, p.threshold)
            live.log_metric(f"{column}/dice", counts["overall"].dice, plot=False)
            live.log_metric(f"{column}/iou", counts["overall"].iou, plot=False)
            per_domain = [
                {"domain": domain, "dice": c.dice}
                for domain, c in sorted(counts.items())
                if domain != "overall"
            ]
            live.log_plot(
                column,
                per_domain,
                x="dice",
                y="domain",
                template="bar_horizontal",
                title=f"{args.row}: Dice per domain ({column})",
            )
            log.info(
                "%s %s: dice %.3f iou %.3f",
                args.row,
                column,
                counts["overall"].dice,
                counts["overall"].iou,
            )


if __name__ == "__main__":
    run_stage(main)
