"""Benchmark (not a test): estimated GPU hours of one experiment of each study kind in a profile.

    python benchmarks/study_cost.py                       # profiles/paper.yaml, every study
    python benchmarks/study_cost.py --profile params.yaml --grid reduced

Counts the forward FLOPs of every network at its profile size (torch.utils.flop_counter, batch 1,
on the CPU), multiplies them by what each stage does (a training sample costs 3 forwards, a
sampling step one) and converts at the throughput the paper's own anchor implies: 5000 pairs
(generator DDPM 1000 + SR DDIM 100) in up to 2 h on one A100. Data sizes are the profile's demo
world's; the discriminator's extra cost is left out. An estimate, not a measurement.

A study's cost: per seed, the first experiment runs every stage; every other setting re-runs what
its params reach (gen.* from train_gen, select_gen.* and generate.* from generate), priced with its
own params (an SR DDPM-1000 setting costs its 1000 steps).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import torch
import yaml
from torch.utils.flop_counter import FlopCounterMode

from pipeline.gen import generator, super_resolver
from pipeline.params import load_params
from pipeline.seg.segmentation import SegModelConfig, build_unet
from pipeline.study.grids import STUDIES

ANCHOR_PAIRS, ANCHOR_SECONDS, ANCHOR_STEPS, ANCHOR_SR_STEPS = 5000, 2 * 3600, 1000, 100


def forward_flops(model: torch.nn.Module, *inputs: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(*inputs)
    return float(counter.get_total_flops())


def network_flops(params) -> dict[str, float]:
    """Forward FLOPs per sample of each network at the profile's sizes."""
    g, s = params.prepare.gen_size, params.prepare.sr_size
    t = torch.zeros(1, dtype=torch.long)
    gen = generator.build(generator.config(params.gen, g))
    sr = super_resolver.build(super_resolver.config(params.sr, s, s // g))
    seg = build_unet(SegModelConfig.from_params(params.train_seg))
    labeler = build_unet(SegModelConfig.from_params(params.train_labeler))
    size, lsize = params.train_seg.size, params.train_labeler.size
    return {
        "gen": forward_flops(gen, torch.zeros(1, 4, g, g), t),
        "sr": forward_flops(sr, torch.zeros(1, 4, s, s), t, torch.zeros(1, 4, s, s)),
        "seg": forward_flops(seg, torch.zeros(1, 3, size, size)),
        "labeler": forward_flops(labeler, torch.zeros(1, 3, lsize, lsize)),
    }


def stage_flops(params, f: dict[str, float]) -> dict[str, float]:
    """FLOPs of each stage group of one experiment."""
    d, e = params.demo_field, params.extract_frames
    frames = d.videos * d.seconds * d.fps / e.every
    crops = frames * params.prepare.crops_per_frame * (1 - params.prepare.val_fraction)
    gwhd = 18 * d.finetune_per_domain
    ft = params.finetune
    seg_rows = 3  # copy-paste, synthset, pseudo: each fine-tuned twice; real only once
    scale = (params.train_seg.size / params.prepare.sr_size) ** 2  # random crops of the pairs
    finetune = (
        seg_rows * 2 + 1
    ) * ft.epochs * gwhd + seg_rows * ft.rounds * ft.frame_epochs * frames
    return {
        "labeler and pseudo-labels": 3
        * f["labeler"]
        * (
            params.copy_paste.images * params.train_labeler.epochs
            + params.pseudo_label.rounds * params.pseudo_label.epochs * frames
        ),
        "train_gen": 3 * f["gen"] * params.gen.epochs * crops,
        "train_sr": 3 * f["sr"] * params.sr.epochs * crops,
        "generate": params.generate.n
        * (params.generate.steps * f["gen"] + params.generate.sr_steps * f["sr"]),
        "segmentation (train_seg, fine-tunes)": 3
        * f["seg"]
        * (params.train_seg.epochs * params.generate.n * scale + finetune),
    }


def with_overrides(params, overrides: dict[str, str]):
    """The params with a study variant's `-S key=value` overrides applied."""
    for key, value in overrides.items():
        section, leaf = key.split(".")
        part = dataclasses.replace(getattr(params, section), **{leaf: yaml.safe_load(value)})
        params = dataclasses.replace(params, **{section: part})
    return params


def study_hours(params, name: str, grid: str, seeds: int, rate: float) -> float:
    """A100 hours of a study's grid, with nothing cached before it."""
    flops_of: dict[str, dict[str, float]] = {}
    seen: set[tuple] = set()
    total = 0.0
    for i, variant in enumerate(STUDIES[name].variants(grid)):
        p = with_overrides(params, variant.params)
        if p.gen.arch not in flops_of:
            flops_of[p.gen.arch] = network_flops(p)
        stages = stage_flops(p, flops_of[p.gen.arch])
        names = list(stages)
        generator = tuple(sorted((k, v) for k, v in variant.params.items() if k.startswith("gen.")))
        if i == 0:
            reruns = names
        elif generator not in seen:
            reruns = names[1:2] + names[3:]
        else:
            reruns = names[3:]
        seen.add(generator)
        total += sum(stages[n] for n in reruns)
    return seeds * total / rate / 3600


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", type=Path, default=Path("profiles/paper.yaml"))
    parser.add_argument("--grid", choices=("full", "reduced"), default="full")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    params = load_params(args.profile)
    f = network_flops(params)
    anchor = ANCHOR_PAIRS * (ANCHOR_STEPS * f["gen"] + ANCHOR_SR_STEPS * f["sr"])
    rate = anchor / ANCHOR_SECONDS
    stages = stage_flops(params, f)
    print("forward GFLOP per sample: " + ", ".join(f"{k} {v / 1e9:.1f}" for k, v in f.items()))
    print(f"throughput implied by the paper's anchor: {rate / 1e12:.1f} TFLOP/s (one A100)")
    print("| stage | PFLOP | A100 hours |\n|---|---|---|")
    for name, flops in stages.items():
        print(f"| {name} | {flops / 1e15:.1f} | {flops / rate / 3600:.2f} |")
    kinds = {
        "new seed (every stage)": list(stages),
        "generator setting (train_gen onwards)": list(stages)[1:2] + list(stages)[3:],
        "selection or sampler setting (generate onwards)": list(stages)[3:],
    }
    for kind, names in kinds.items():
        hours = sum(stages[n] for n in names) / rate / 3600
        print(f"{kind}: {hours:.1f} A100 hours")
    print(f"| study | experiments ({args.grid}, {args.seeds} seeds) | A100 hours |\n|---|---|---|")
    for name, study in STUDIES.items():
        n = len(study.variants(args.grid)) * args.seeds
        hours = study_hours(params, name, args.grid, args.seeds, rate)
        print(f"| {name} | {n} | {hours:.0f} |")


if __name__ == "__main__":
    main()
