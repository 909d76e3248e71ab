"""Benchmark (not a test): generator training-step time and samples/s per architecture.

    python benchmarks/bench_gen.py              # demo and paper profiles, CPU (+ CUDA if present)
    python benchmarks/bench_gen.py --profiles paper --devices cuda --batch 64

Widths, input size and batch come from params.yaml (demo) and profiles/paper.yaml (paper); on the
CPU the paper batch is capped at 8. Each row is the median of `--steps` optimisation steps (after
one warm-up step): q_sample, forward, ε-MSE over image and mask, backward, Adam; bf16 autocast and
channels_last on CUDA. Run it from the repository root.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace
from pathlib import Path

import torch

from pipeline.gen import generator as gen
from pipeline.gen.diffusion import Diffusion, T
from pipeline.gen.nets.paired_unet import ARCHS, PairedUNetConfig, build_generator, count_parameters
from pipeline.params import load_params
from pipeline.training import autocast, default_device

PROFILES = {"demo": Path("params.yaml"), "paper": Path("profiles/paper.yaml")}
CPU_BATCH_CAP = 8  # the paper's batch of 64 at 128² takes minutes per step on a laptop CPU


def median_step(model, call, size: int, batch: int, device: torch.device, steps: int) -> float:
    """Median seconds of `steps` training steps of `model` (after one warm-up step): q_sample,
    `call(model, x_t, t)` under autocast, ε-MSE, backward, Adam, on random pairs."""
    opt = torch.optim.Adam(model.parameters(), lr=2.1e-4)
    diffusion = Diffusion(device)
    x0 = torch.rand(batch, 4, size, size, device=device) * 2 - 1
    times = []
    for i in range(steps + 1):
        noise = torch.randn_like(x0)
        t = torch.randint(0, T, (batch,), device=device)
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        with autocast(device):
            eps = call(model, diffusion.q_sample(x0, noise, t), t).float()
        loss = diffusion.loss(eps, noise)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_steps(config: PairedUNetConfig, size: int, batch: int, device: torch.device, steps: int):
    """Median seconds per training step, and the parameter count."""
    torch.manual_seed(0)
    model = build_generator(config).to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    seconds = median_step(model, lambda m, x, t: m(x, t), size, batch, device, steps)
    return seconds, count_parameters(model)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", nargs="+", default=list(PROFILES), choices=list(PROFILES))
    parser.add_argument("--archs", nargs="+", default=list(ARCHS), choices=list(ARCHS))
    parser.add_argument("--devices", nargs="+", default=None, help="cpu and/or cuda")
    parser.add_argument("--batch", type=int, default=None, help="override the profile's batch")
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    devices = args.devices or (["cpu", "cuda"] if default_device().type == "cuda" else ["cpu"])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    print("| device | profile | arch | params | input | batch | s/step | samples/s |")
    print("|---|---|---|---|---|---|---|---|")
    for device_name in devices:
        device = torch.device(device_name)
        if device.type == "cuda":
            default_device()
        for profile in args.profiles:
            params = load_params(PROFILES[profile])
            size, batch = params.prepare.gen_size, params.gen.batch_size
            if device.type == "cpu" and size > 64:
                batch = min(batch, CPU_BATCH_CAP)
            batch = args.batch or batch
            for arch in args.archs:
                config = replace(gen.config(params.gen), arch=arch)
                sec, count = time_steps(config, size, batch, device, args.steps)
                print(
                    f"| {device_name} | {profile} | {arch} | {count / 1e6:.2f} M | {size}² | "
                    f"{batch} | {sec:.3f} | {batch / sec:.1f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
