"""Benchmark (not a test): peak memory and step time of every trainer at demo and paper scale,
each in its own process, in one run.

    python benchmarks/trainer_memory.py                    # demo and paper; CPU, or CUDA if present
    python benchmarks/trainer_memory.py --profiles paper --cpu-batch 4

Trainers: the generator (the profile's architecture, with its discriminator when the profile
has one), the super-resolver, and the three smp U-Net trainings (train_labeler, train_seg and the
fine-tunes share train_seg's model) at their crop sizes. Each runs the real training code
(`DiffusionTraining.train_step`, `segmentation.fit`) on random data for `--steps` steps in a
fresh process. Memory: the process's peak resident set (RSS) on the CPU,
`torch.cuda.max_memory_allocated` on CUDA. On the CPU the paper's batches are capped at
`--cpu-batch` (a batch of 64 at 128² is minutes per step there); the printed batch is the one run.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from pipeline.gen.generator_training import GeneratorTraining
from pipeline.gen.sr_training import SRTraining
from pipeline.params import load_params
from pipeline.seg.segmentation import FitRun, SegModelConfig, build_unet, fit
from pipeline.training import Dist, default_device, make_live

PROFILES = {
    "demo": Path("params.yaml"),
    "paper": Path("profiles/paper.yaml"),
    "smoke": Path("profiles/smoke.yaml"),  # the tests' size
}
TRAINERS = ("gen", "sr", "train_labeler", "train_seg")


def _batch(profile_batch: int, device: torch.device, cap: int) -> int:
    return profile_batch if device.type == "cuda" else min(profile_batch, cap)


def _peak(device: torch.device) -> float:
    """GiB: CUDA's peak allocation, or this process's peak RSS."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def one(profile: str, trainer: str, steps: int, cap: int) -> dict:
    """Run `steps` steps (after one warm-up) of one trainer: its batch, s/step, and the peak GiB
    before the first step (imports, data, network) and after the last."""
    params = load_params(PROFILES[profile])
    device = default_device()
    dist = Dist(0, 1, device)
    rng = np.random.default_rng(0)
    if trainer in ("gen", "sr"):
        p = params.gen if trainer == "gen" else params.sr
        size = params.prepare.gen_size if trainer == "gen" else params.prepare.sr_size
        batch = _batch(p.batch_size, device, cap)
        p = replace(p, batch_size=batch)
        crops = rng.integers(0, 256, (batch * (steps + 1), size, size, 4), dtype=np.uint8)
        if trainer == "gen":
            training = GeneratorTraining(p, 0, crops, crops[:batch], dist)
        else:
            factor = params.prepare.sr_size // params.prepare.gen_size
            training = SRTraining(p, 0, crops, crops[:batch], dist, factor)
        ready = _peak(device)
        times = []
        for step in range(steps + 1):
            began = time.perf_counter()
            training.train_step(0, step)
            if device.type == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - began)
        seconds = float(np.median(times[1:]))
    else:
        p = getattr(params, trainer)
        batch = _batch(p.batch_size, device, cap)
        p = replace(p, batch_size=batch, epochs=1)
        size = p.size
        images = rng.integers(0, 256, (batch * (steps + 1), size, size, 3), dtype=np.uint8)
        masks = rng.random((batch * (steps + 1), size, size)) > 0.8
        model = build_unet(SegModelConfig.from_params(p))
        ready = _peak(device)
        with tempfile.TemporaryDirectory() as tmp:
            live = make_live(Path(tmp) / "dvclive")
            began = time.perf_counter()
            fit(model, (images, masks), None, p, FitRun(0, live, dist))
            seconds = (time.perf_counter() - began) / (steps + 1)  # the epoch's mean, warm-up in
            live.end()
    peak = _peak(device)
    return {"batch": batch, "size": size, "s_per_step": seconds, "ready": ready, "peak": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", nargs="+", default=["demo", "paper"], choices=list(PROFILES))
    parser.add_argument("--trainers", nargs="+", default=list(TRAINERS), choices=TRAINERS)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--cpu-batch", type=int, default=2, help="cap of the paper's batches")
    parser.add_argument("--one", nargs=2, metavar=("PROFILE", "TRAINER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(*args.one, args.steps, args.cpu_batch)))
        return
    device = default_device()
    memory = "peak CUDA allocation" if device.type == "cuda" else "peak RSS"
    print(f"torch {torch.__version__}, {device}, {torch.get_num_threads()} threads")
    print(f"| profile | trainer | input | batch | s/step | {memory} (GiB) | before the 1st step |")
    print("|---|---|---|---|---|---|---|")
    for profile in args.profiles:
        for trainer in args.trainers:
            cap = args.cpu_batch if profile == "paper" else 1 << 30
            command = [sys.executable, __file__, "--one", profile, trainer]
            command += ["--steps", str(args.steps), "--cpu-batch", str(cap)]
            out = subprocess.run(command, capture_output=True, text=True)
            if out.returncode:
                raise SystemExit(f"{profile} {trainer} failed:\n{out.stderr[-2000:]}")
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"| {profile} | {trainer} | {r['size']}² | {r['batch']} | "
                f"{r['s_per_step']:.3f} | {r['peak']:.2f} | {r['ready']:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
