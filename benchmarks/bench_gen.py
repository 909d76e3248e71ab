"""Benchmark (not a test): generator training-step time and samples/s per architecture.

    python benchmarks/bench_gen.py              # demo and paper widths, CPU (+ CUDA if present)
    python benchmarks/bench_gen.py --profiles paper --devices cuda --batch 64

Each row times `--steps` optimisation steps (after one warm-up step) of the real training step:
q_sample, forward, ε-MSE over image and mask, backward, Adam; bf16 autocast on CUDA.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from pipeline.diffusion import Diffusion, T
from pipeline.nets.paired_unet import ARCHS, PairedUNetConfig, build_generator, count_parameters
from pipeline.training import autocast, default_device

PROFILES = {  # widths, image size, batch on CUDA, batch on the CPU
    "demo": ((32, 64, 128), 32, 32, 32),
    "paper": ((32, 64, 128, 256), 128, 64, 8),
}


def time_steps(arch: str, widths, size: int, batch: int, device: torch.device, steps: int):
    """Median seconds per training step, and the parameter count."""
    torch.manual_seed(0)
    model = build_generator(PairedUNetConfig(arch=arch, widths=widths)).to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
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
            eps = model(diffusion.q_sample(x0, noise, t), t).float()
        loss = diffusion.loss(eps, noise)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i:
            times.append(time.perf_counter() - start)
    return statistics.median(times), count_parameters(model)


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
            widths, size, cuda_batch, cpu_batch = PROFILES[profile]
            batch = args.batch or (cuda_batch if device.type == "cuda" else cpu_batch)
            for arch in args.archs:
                sec, params = time_steps(arch, widths, size, batch, device, args.steps)
                print(
                    f"| {device_name} | {profile} | {arch} | {params / 1e6:.2f} M | {size}² | "
                    f"{batch} | {sec:.3f} | {batch / sec:.1f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
