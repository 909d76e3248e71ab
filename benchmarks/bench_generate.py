"""Benchmark (not a test): pairs/s of stage generate (generator sampler, then the super-resolver).

    python benchmarks/bench_generate.py                  # demo and paper sizes, CPU (+ CUDA)
    python benchmarks/bench_generate.py --profiles paper --devices cuda

Networks, sizes, batch and the SR sampler come from params.yaml (demo) and profiles/paper.yaml
(paper), with freshly initialised weights (speed does not depend on them); on the CPU the paper
batch is capped at 8. For each generator sampler (DDPM 1000, DDIM 100, DPM-Solver++ 20 and UniPC 20
steps) the script times the median denoising step of each network (forward + scheduler step); when
the predicted time of one batch is under `--max-seconds` it then generates the batch for real with
`pipeline.gen.generation.make_pairs` and reports that measured time, otherwise the per-step
extrapolation (marked "est."). The paper's anchor: 5000 pairs in at most 2 h on one A100 (≥ 0.69
pairs/s). Run it from the repository root.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from pipeline.gen import generator as gen
from pipeline.gen import super_resolver
from pipeline.gen.diffusion import make_scheduler
from pipeline.gen.generation import GenerationSpec, make_pairs
from pipeline.params import Params, load_params
from pipeline.training import autocast, default_device

PROFILES = {"demo": Path("params.yaml"), "paper": Path("profiles/paper.yaml")}
SAMPLERS = (("ddpm", 1000), ("ddim", 100), ("dpmsolver++", 20), ("unipc", 20))
CPU_BATCH_CAP = 8
ANCHOR_PAIRS_PER_S = 5000 / (2 * 3600)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


@torch.no_grad()
def step_seconds(model, shape, device: torch.device, cond: bool, repeats: int = 3) -> float:
    """Median seconds of one denoising step: a forward pass and a DDPM scheduler step."""
    scheduler = make_scheduler("ddpm")
    scheduler.set_timesteps(1000, device=device)
    x = torch.randn(shape, device=device)
    extra = (torch.randn(shape, device=device),) if cond else ()
    t = torch.full((shape[0],), 500, device=device, dtype=torch.long)
    times = []
    for i in range(repeats + 1):
        _sync(device)
        start = time.perf_counter()
        with autocast(device):
            eps = model(x, t, *extra).float()
        scheduler.step(eps, 500, x)
        _sync(device)
        if i:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench(params: Params, device: torch.device, batch: int, max_seconds: float):
    """Rows (sampler, steps, generator s/step, SR s/step, seconds per batch, measured?)."""
    sizes, g = params.prepare, params.generate
    torch.manual_seed(0)
    generator = gen.build(gen.config(params.gen)).to(device).eval()
    sr = super_resolver.build(super_resolver.config(params.sr)).to(device).eval()
    if device.type == "cuda":
        generator = generator.to(memory_format=torch.channels_last)
        sr = sr.to(memory_format=torch.channels_last)
    gen_step = step_seconds(generator, (batch, 4, sizes.gen_size, sizes.gen_size), device, False)
    sr_step = step_seconds(sr, (batch, 4, sizes.sr_size, sizes.sr_size), device, True)
    for sampler, steps in SAMPLERS:
        estimate = steps * gen_step + g.sr_steps * sr_step
        measured = estimate <= max_seconds
        seconds = estimate
        if measured:
            spec = GenerationSpec.from_params(
                g,
                0,
                sizes.gen_size,
                sizes.sr_size // sizes.gen_size,
                n=batch,
                batch_size=batch,
                sampler=sampler,
                steps=steps,
                eta=0.0,
                pair_set=0,
            )
            _sync(device)
            start = time.perf_counter()
            make_pairs(list(range(batch)), generator, sr, spec, device)
            _sync(device)
            seconds = time.perf_counter() - start
        yield sampler, steps, gen_step, sr_step, seconds, measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", nargs="+", default=list(PROFILES), choices=list(PROFILES))
    parser.add_argument("--devices", nargs="+", default=None, help="cpu and/or cuda")
    parser.add_argument("--batch", type=int, default=None, help="override the profile's batch")
    parser.add_argument("--max-seconds", type=float, default=120.0)
    args = parser.parse_args()
    devices = args.devices or (["cpu", "cuda"] if default_device().type == "cuda" else ["cpu"])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    print(f"paper anchor: 5000 pairs in ≤ 2 h on one A100 = {ANCHOR_PAIRS_PER_S:.2f} pairs/s")
    print(
        "| device | profile | sizes | batch | generator sampler | SR sampler "
        "| gen s/step | SR s/step | pairs/s | 5000 pairs |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for device_name in devices:
        device = torch.device(device_name)
        if device.type == "cuda":
            default_device()
        for profile in args.profiles:
            params = load_params(PROFILES[profile])
            sizes = params.prepare
            g = params.generate
            batch = g.batch_size
            if device.type == "cpu" and sizes.gen_size > 64:
                batch = min(batch, CPU_BATCH_CAP)
            batch = args.batch or batch
            rows = bench(params, device, batch, args.max_seconds)
            for sampler, steps, gen_step, sr_step, seconds, measured in rows:
                rate = batch / seconds
                hours = 5000 / rate / 3600
                mark = "" if measured else " est."
                print(
                    f"| {device_name} | {profile} | {sizes.gen_size}²→{sizes.sr_size}² | {batch} "
                    f"| {sampler} {steps} | {g.sr_sampler} {g.sr_steps} "
                    f"| {gen_step:.4f} | {sr_step:.4f} | {rate:.3g}{mark} | {hours:.3g} h{mark} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
