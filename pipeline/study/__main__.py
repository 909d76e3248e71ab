"""`python -m pipeline.study NAME [--seeds K] [--grid full|reduced] [--jobs J]`: queue a study's
DVC experiment grid, wait for it, and write reports/studies/NAME.{md,json} and its figures."""

from __future__ import annotations

import argparse
import io
import json
import logging
import socket
import time
from collections import Counter
from pathlib import Path

import dvc.api
import numpy as np
from PIL import Image

from pipeline import artifacts
from pipeline.errors import ParamsError, run_stage
from pipeline.files import atomic_file
from pipeline.gen.generation import pair_id
from pipeline.study.collate import (
    collate,
    experiment_name,
    fastest_not_worse,
    markdown,
    paper_numbers,
)
from pipeline.study.embeddings import coverage, experiment_embeddings, scatter, spread
from pipeline.study.experiments import (
    Experiment,
    Result,
    StudyError,
    host,
    matches,
    param,
    recorded_times,
    results,
    run,
    short_commit,
    workspace_result,
)
from pipeline.study.figures import dice_bars, stacked, zoomed
from pipeline.study.grids import (
    BEYOND_PAPER,
    EMBEDDINGS,
    SECONDS_PER_PAIR,
    STUDIES,
    TIMING,
    Study,
    Variant,
)
from pipeline.study.sharing import parse_shard, pull, push, shard
from pipeline.study.timing import seconds_per_pair

SAMPLES = artifacts.GENERATED_PAIRS.as_posix()


def first_pair(params: dict) -> str:
    """The image of an experiment's first generated pair: pairs are named by their index, and
    pair set s starts at s·n."""
    index = int(param(params, "generate.pair_set")) * int(param(params, "generate.n"))
    return (artifacts.GENERATED / "images" / f"{pair_id(index)}.png").as_posix()


def quarter(png: bytes) -> np.ndarray:
    """The top-left quarter of an RGB image file's pixels."""
    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    return image[: image.shape[0] // 2, : image.shape[1] // 2]


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Defaults shown; the list of studies kept as written."""


def studies_help() -> str:
    """One entry per study: what it reproduces, its grid and its measured demo cost."""
    lines = ["studies (demo cost on a 2-core CPU, as measured by their committed reports):"]
    for s in STUDIES.values():
        where = s.paper if s.paper == BEYOND_PAPER else f"paper: {s.paper}"
        lines.append(f"  {s.name}: {s.title} ({where})")
        lines.append(
            f"      {len(s.full)} settings ({len(s.reduced)} in the reduced grid) per seed;"
            f" demo: {s.demo_cost}"
        )
    return "\n".join(lines)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.study",
        description=__doc__,
        epilog=studies_help(),
        formatter_class=HelpFormatter,
    )
    parser.add_argument("name", help=f"one of: {', '.join(STUDIES)}")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..K-1")
    parser.add_argument("--grid", choices=("full", "reduced"), default="reduced", help="settings")
    parser.add_argument("--jobs", type=int, default=1, help="dvc queue workers")
    parser.add_argument("--out", type=Path, default=Path("reports/studies"), help="report folder")
    parser.add_argument("--repo", type=Path, default=Path("."), help="the DVC repository")
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--runs",
        type=Path,
        nargs="+",
        help="instead of queueing experiments, collate these workspaces where `dvc repro`"
        " finished (one setting and seed each, e.g. clones on other machines)",
    )
    source.add_argument(
        "--shard",
        metavar="I/N",
        help="run only the I-th of N shares of the grid and push its experiments to --remote"
        " (`dvc exp push`; outputs to the default DVC remote); no report",
    )
    source.add_argument(
        "--collate",
        action="store_true",
        help="pull the grid's experiments from --remote (`dvc exp pull`) and write the report;"
        " fails naming the experiments no shard has pushed",
    )
    parser.add_argument("--remote", default="origin", help="the git remote the shards share")
    return parser.parse_args(argv)


def embedding_figure(
    repo: Path,
    out: Path,
    study: Study,
    variants: tuple[Variant, ...],
    seeds: list[int],
    found: dict[str, Result],
) -> tuple[str, str]:
    """Embed every experiment's generated images beside its training crops; add spread and
    coverage to its metrics and draw the seed-0 experiments' PCA panels. Returns the figure's
    name and what the reader must know about it."""
    panels = []
    for s in seeds:
        for v in variants:
            result = found[experiment_name(v, s)]
            sr_size = int(param(result.params, "prepare.sr_size"))
            reference, generated, images = experiment_embeddings(repo, result.rev, sr_size)
            result.metrics[EMBEDDINGS] = {
                "spread": spread(reference, generated),
                "coverage": coverage(reference, generated),
            }
            if s == seeds[0]:
                panels.append((v.label, reference, generated, images))
    name = f"{study.name}_pca.png"
    scatter(out / name, panels)
    return name, same_images(panels, seeds[0])


def same_images(panels: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]], seed: int) -> str:
    """A sentence naming the settings whose generated images are identical (the same weights
    kept), so that a reader knows why their panels look alike; empty when all differ."""
    groups: list[list[int]] = []
    for i, (_, _, _, images) in enumerate(panels):
        for group in groups:
            if np.array_equal(panels[group[0]][3], images):
                group.append(i)
                break
        else:
            groups.append([i])
    alike = [" and ".join(panels[i][0] for i in g) for g in groups if len(g) > 1]
    if not alike:
        return ""
    return (
        f"In seed {seed}, {'; '.join(alike)} generated exactly the same images (the rule kept the"
        " same weights), so their panels are the same."
    )


def finished_runs(
    study: Study, variants: tuple[Variant, ...], runs: list[Path]
) -> tuple[dict[str, Result], dict[str, Path], list[int]]:
    """The workspaces read as the study's experiments, named by the setting and seed their
    params.yaml holds, with their folders and seeds; every setting must have the same seeds."""
    files = {c.file for c in study.columns}
    found, folders = {}, {}
    for folder in runs:
        result = workspace_result(folder, files)
        setting = [v for v in variants if matches(result, Experiment("", v.params))]
        if not setting:
            raise StudyError(f"{folder}: its params.yaml matches no setting of {study.name}")
        name = experiment_name(setting[0], int(param(result.params, "seed")))
        if name in found:
            raise StudyError(f"{folder} and {folders[name]} both ran {name}")
        found[name], folders[name] = result, folder
    seeds = sorted({int(param(r.params, "seed")) for r in found.values()})
    missing = [experiment_name(v, s) for v in variants for s in seeds]
    missing = [name for name in missing if name not in found]
    if missing:
        raise StudyError(f"--runs: no workspace ran {', '.join(missing)}")
    return found, folders, seeds


def provenance(
    args: argparse.Namespace,
    numbers: dict,
    found: dict[str, Result],
    folders: dict[str, Path],
    seconds: dict[str, float],
    wall: float,
    before: dict[str, float],
) -> tuple[str, str]:
    """The command that wrote a report, and when, where and how long its experiments ran (those
    run now, and those an earlier run of it ran: `before`)."""
    name, experiments, seeds = args.name, numbers["experiments"], numbers["seeds"]
    size = (
        f"{len(experiments)} experiments ({len(experiments) // len(seeds)} settings × "
        f"{len(seeds)} seeds, grid `{args.grid}`) at commit {numbers['commit']}"
    )
    if args.runs:
        first = found[sorted(folders)[0]].params
        timing = (
            f"Collated from {len(experiments)} workspaces where `dvc repro` finished: "
            + ", ".join(f"{n} in {folders[n]} at commit {found[n].rev}" for n in sorted(folders))
            + f". Their params.yaml: data from `{param(first, 'data.root')}`, generator"
            f" {param(first, 'prepare.gen_size')} px, super-resolver"
            f" {param(first, 'prepare.sr_size')} px, {param(first, 'generate.n')} generated pairs."
        )
        command = f"python -m pipeline.study {name} --grid {args.grid} --runs " + " ".join(
            str(f) for f in args.runs
        )
    elif args.collate:
        timing = f"{size}, pulled from `{args.remote}` where their shards pushed them."
        command = (
            f"python -m pipeline.study {name} --seeds {args.seeds} --grid {args.grid}"
            f" --collate --remote {args.remote}"
        )
    else:
        timing = f"{size}: {len(seconds)} ran now, in {wall / 60:.1f} min"
        if seconds:
            minutes = sorted(v / 60 for v in seconds.values())
            timing += (
                f" (per experiment: median {minutes[len(minutes) // 2]:.1f} min, "
                f"{minutes[0]:.1f}-{minutes[-1]:.1f})"
            )
        timing += f"; {len(experiments) - len(seconds)} were already finished"
        if before:
            minutes = sorted(v / 60 for v in before.values())
            timing += (
                f" ({len(before)} of them timed when an earlier run ran them: median"
                f" {minutes[len(minutes) // 2]:.1f} min, {minutes[0]:.1f}-{minutes[-1]:.1f})"
            )
        timing += "."
        command = f"python -m pipeline.study {name} --seeds {args.seeds} --grid {args.grid}"
    machines = Counter(e["host"] or "not recorded" for e in experiments.values())
    timing += " Machines: " + ", ".join(f"{h} ({n})" for h, n in sorted(machines.items())) + "."
    return command, timing


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    if args.name not in STUDIES:
        raise ParamsError(f"unknown study {args.name!r}; expected one of {', '.join(STUDIES)}")
    if args.seeds < 1 or args.jobs < 1:
        raise ParamsError("--seeds and --jobs must be at least 1")
    study = STUDIES[args.name]
    variants = study.variants(args.grid)
    seeds, folders = list(range(args.seeds)), {}
    if args.runs:
        found, folders, seeds = finished_runs(study, variants, args.runs)
    grid = [
        Experiment(experiment_name(v, s), {**v.params, "seed": str(s)})
        for s in seeds
        for v in variants
    ]
    if args.shard:
        mine = shard(grid, *parse_shard(args.shard))
        run(args.repo, mine, args.jobs)
        push(args.repo, args.remote, [e.name for e in mine])
        logging.getLogger(__name__).info(
            "pushed %s to %s; `--collate` on any clone writes the report",
            ", ".join(e.name for e in mine),
            args.remote,
        )
        return
    if args.collate:
        pull(args.repo, args.remote, [e.name for e in grid])
    begun = time.monotonic()
    seconds = {} if args.runs or args.collate else run(args.repo, grid, args.jobs)
    wall = time.monotonic() - begun
    if not args.runs:
        found = results(args.repo)
    hosts = {
        e.name: socket.gethostname() if args.runs else host(args.repo, found[e.name]) for e in grid
    }
    out = args.repo / args.out
    figures = []
    note = study.note
    if study.embeddings:
        name, alike = embedding_figure(args.repo, out, study, variants, seeds, found)
        figures.append(name)
        note = f"{note} {alike}".strip()
    if study.timing:
        for e in grid:
            found[e.name].metrics[TIMING] = {
                "seconds_per_pair": seconds_per_pair(args.repo, found[e.name])
            }
    numbers = collate(study, variants, seeds, found, paper_numbers(study.name))
    if study.timing:
        numbers["fastest"] = fastest_not_worse(numbers, SECONDS_PER_PAIR)
    commit = short_commit(args.repo)
    numbers |= {
        "grid": args.grid,
        "commit": commit,
        "wall_seconds": round(wall, 1),
        "experiments": {
            e.name: {
                "rev": found[e.name].rev,
                "seconds": round(seconds.get(e.name, 0.0), 1),
                "host": hosts[e.name],
            }
            for e in grid
        },
    }
    if any(c.endswith("Dice") for c in numbers["columns"]):
        figures.append(f"{study.name}.png")
        dice_bars(out / figures[-1], numbers)
    if study.samples != "none":

        def read(v: Variant, path: str) -> bytes:
            name = experiment_name(v, seeds[0])
            if args.runs:
                return (folders[name] / path).read_bytes()
            return dvc.api.read(path, repo=str(args.repo), rev=found[name].rev, mode="rb")

        def first(v: Variant) -> str:
            return first_pair(found[experiment_name(v, seeds[0])].params)

        figures.append(f"{study.name}_samples.png")
        if study.samples == "zoom":
            pair = "generate.pair_set"  # settings of one pair set sample the same pairs
            crops = [
                (v.label, f"pair set {v.params.get(pair, '0')}", quarter(read(v, first(v))))
                for v in variants
            ]
            zoomed(out / figures[-1], crops)
        else:
            stacked(out / figures[-1], [(v.label, read(v, SAMPLES)) for v in variants])
    recorded = {} if args.runs or args.collate else recorded_times(args.repo)
    before = {n: recorded[n] for n in (e.name for e in grid) if n in recorded and n not in seconds}
    command, timing = provenance(args, numbers, found, folders, seconds, wall, before)
    text = markdown(numbers, command, timing, figures, note)
    with atomic_file(out / f"{study.name}.json") as tmp:
        tmp.write_text(json.dumps(numbers, indent=2) + "\n")
    with atomic_file(out / f"{study.name}.md") as tmp:
        tmp.write_text(text)
    logging.getLogger(__name__).info("wrote %s", out / f"{study.name}.md")


if __name__ == "__main__":
    run_stage(main)
