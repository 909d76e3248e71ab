"""The README's figure: generated pairs above real photos with the masks models predict on them.

    python docs/figures/overview.py GENERATED PHOTOS OUT.png LABEL=PREDICTIONS [...]

GENERATED is a generated dataset (`data/generated` of a run), PHOTOS a folder of real photos
(`images/`), each PREDICTIONS the output of `synthset-predict MODEL PHOTOS/images PREDICTIONS`.
The first four generated pairs and the first four photos are drawn, each mask tinted. Run it from
the repository root with `PYTHONPATH=.`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.datasets import read_manifest
from pipeline.figures import overlay, rows_figure, save_figure
from pipeline.images import list_files, read_mask, read_rgb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("generated", type=Path)
    parser.add_argument("photos", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("predictions", nargs="+", help="LABEL=FOLDER written by synthset-predict")
    args = parser.parse_args()
    generated = read_manifest(args.generated).head(4)
    rows = [
        (
            "generated pairs",
            [
                overlay(read_rgb(args.generated / r.image), read_mask(args.generated / r.mask))
                for r in generated.itertuples()
            ],
        )
    ]
    photos = list_files(args.photos / "images", (".png", ".jpg", ".jpeg"))[:4]
    for entry in args.predictions:
        label, folder = entry.split("=", 1)
        masks = [read_mask(Path(folder) / "masks" / f"{p.stem}.png") for p in photos]
        rows.append((label, [overlay(read_rgb(p), m) for p, m in zip(photos, masks, strict=True)]))
    save_figure(rows_figure(rows), args.out)


if __name__ == "__main__":
    main()
