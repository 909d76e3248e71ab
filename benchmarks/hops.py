"""Where the value is lost (not a test): the downstream U-Net trained on each hop's pairs.

    python benchmarks/hops.py --seeds 0 1 2

Run from the root of a repository where `dvc repro` has run (the demo, or `data.root` pointed at
real photos). The same U-Net as `train_seg` (its params, from scratch) is trained on the pairs of
each hop of the chain and scored on the GWHD test quadrants as the synthetic-only column is:

- `pseudo_sr`: the pseudo-labelled training crops at the SR size (the `pseudo` row of Table 1);
- `pseudo_gen_up`: the same crops at the generator size, upsampled as the super-resolver's
  condition is (bilinear image, nearest mask): what the generator's resolution alone costs;
- `generated_low_up`: the generator's own low-resolution pairs, upsampled the same way: what
  generation costs;
- `generated_sr`: the super-resolved generated pairs (the `synthset` row): what SR adds or breaks.

Prints one markdown row per hop: the mask fraction of its pairs and the test Dice / IoU, mean ± std
over the seeds. The U-Nets of a hop differ only in the seed of `train_seg`.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from dvclive import Live

from pipeline.data.layout import RawLayout
from pipeline.datasets import load_packed, read_dataset, read_manifest
from pipeline.gen.super_resolver import upsampled
from pipeline.geometry import predict_at_scale
from pipeline.images import read_mask, read_rgb
from pipeline.params import load_params
from pipeline.seeding import stage_rng
from pipeline.seg.evaluation import load_test_crops, score
from pipeline.seg.segmentation import (
    FitRun,
    SegModelConfig,
    build_unet,
    fit,
    predict_list,
    split_pairs,
)

PREPARED = Path("data/prepared")
GENERATED = Path("data/generated")


def hops(gen_size: int, sr_size: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(images uint8 N×S×S×3, masks bool N×S×S) at the SR size of every hop."""
    factor = sr_size // gen_size
    sr_crops = load_packed(PREPARED / f"train_{sr_size}.npy")
    gen_crops = load_packed(PREPARED / f"train_{gen_size}.npy")
    manifest = read_manifest(GENERATED)
    low_images = np.stack([read_rgb(GENERATED / p) for p in manifest["lowres_image"]])
    low_masks = np.stack([read_mask(GENERATED / p) for p in manifest["lowres_mask"]])
    return {
        "pseudo_sr": (np.ascontiguousarray(sr_crops[..., :3]), sr_crops[..., 3] >= 128),
        "pseudo_gen_up": upsampled(gen_crops[..., :3], gen_crops[..., 3] >= 128, factor),
        "generated_low_up": upsampled(low_images, low_masks, factor),
        "generated_sr": read_dataset(GENERATED),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--out", type=Path, default=Path("hops"), help="dvclive folders")
    args = parser.parse_args()
    params = load_params()
    sizes, p = params.prepare, params.train_seg
    crops = load_test_crops(
        RawLayout(Path(params.data.root)), params.extract_frames.size, sizes.sr_size
    )
    config = SegModelConfig.from_params(p, scale=sizes.sr_size / sizes.crop)
    print("| hop | pairs | mask fraction | test Dice | test IoU | seconds |")
    print("|---|---|---|---|---|---|")
    for name, (images, masks) in hops(sizes.gen_size, sizes.sr_size).items():
        dice, iou, start = [], [], time.perf_counter()
        for seed in args.seeds:
            split = stage_rng(seed, "train_seg", "split")
            train, val = split_pairs(images, masks, p.val_fraction, split)
            torch.manual_seed(seed)
            model = build_unet(config)
            live_dir = args.out / f"{name}_seed{seed}"
            with Live(str(live_dir), dvcyaml=False, save_dvc_exp=False) as live:
                fit(model, train, val, p, FitRun(seed, live))
            predict = functools.partial(predict_list, model, batch_size=16)
            probs = predict_at_scale(predict, crops.images, config.scale, (sizes.sr_size,) * 2)
            overall = score(probs, crops.masks, crops.domains, params.evaluate.threshold)["overall"]
            dice.append(overall.dice)
            iou.append(overall.iou)
        spread = statistics.stdev if len(args.seeds) > 1 else (lambda _: 0.0)
        print(
            f"| {name} | {len(images)} | {float(np.mean(masks)):.3f} "
            f"| {np.mean(dice):.3f} ± {spread(dice):.3f} | {np.mean(iou):.3f} ± {spread(iou):.3f} "
            f"| {time.perf_counter() - start:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
