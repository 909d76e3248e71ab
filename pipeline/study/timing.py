"""Wall time of generation per setting: each finished experiment's own generator and
super-resolver, sampled here with its own samplers, one experiment after another (never beside a
training, which would share the cores), so every setting is timed on the same machine."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch

from pipeline import artifacts
from pipeline.gen import generator as gen
from pipeline.gen import super_resolver
from pipeline.gen.generation import GenerationSpec, chained_sizes, make_pairs
from pipeline.params import GenerateParams, build
from pipeline.study.experiments import Result, fetch, param
from pipeline.training import default_device

PAIRS = 8  # pairs per timed batch


def seconds_per_pair(repo: Path, result: Result, pairs: int = PAIRS) -> float:
    """Seconds per pair of one batch of `pairs` pairs (after a one-pair warm-up) made with the
    experiment's weights and `generate.*` samplers on this machine's default device."""
    g = build(GenerateParams, param(result.params, "generate"), "generate")
    with tempfile.TemporaryDirectory() as tmp:
        folders = {
            "generator": fetch(repo, result.rev, artifacts.GENERATOR.as_posix(), Path(tmp)),
            "sr": fetch(repo, result.rev, (artifacts.SR_RUN / g.sr_weights).as_posix(), Path(tmp)),
        }
        generator, sr = gen.load(folders["generator"]), super_resolver.load(folders["sr"])
        gen_size, factor = chained_sizes(generator, sr, folders["generator"], folders["sr"])
    seed = int(param(result.params, "seed"))
    spec = GenerationSpec.from_params(
        g, seed, gen_size, factor, n=pairs, batch_size=pairs, pair_set=0
    )
    device = default_device()
    generator, sr = generator.to(device), sr.to(device)
    make_pairs([0], generator, sr, spec, device)
    if device.type == "cuda":
        torch.cuda.synchronize()
    begun = time.perf_counter()
    make_pairs(list(range(pairs)), generator, sr, spec, device)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - begun) / pairs
