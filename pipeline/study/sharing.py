"""A study spread over machines: each runs its shard of the grid and pushes the finished
experiments (`dvc exp push`: git refs to the shared git remote, outputs to the DVC remote); any
clone then pulls them (`dvc exp pull`) and collates. Each experiment's commit message names the
host that ran it."""

from __future__ import annotations

import re
from pathlib import Path

from pipeline.dvc_cli import dvc
from pipeline.errors import ParamsError
from pipeline.study.experiments import Experiment, StudyError, git


def parse_shard(text: str) -> tuple[int, int]:
    """`I/N` (1 <= I <= N) as (I, N)."""
    match = re.fullmatch(r"(\d+)/(\d+)", text)
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise ParamsError(f"--shard {text!r}: expected I/N with 1 <= I <= N, e.g. 1/2")
    return int(match[1]), int(match[2])


def shard(grid: list[Experiment], i: int, n: int) -> list[Experiment]:
    """Shard i of n: every n-th experiment of the grid, starting at the i-th."""
    return grid[i - 1 :: n]


def push(repo: Path, remote: str, names: list[str]) -> None:
    """Push finished experiments with their outputs (the default DVC remote)."""
    dvc(repo, "exp", "push", "--force", remote, *names)


def remote_experiments(repo: Path, remote: str) -> set[str]:
    """The names of the experiments on the git remote whose baseline is this clone's HEAD."""
    head = git(repo, "rev-parse", "HEAD")
    prefix = f"refs/exps/{head[:2]}/{head[2:]}/"
    refs = (line.split("\t")[-1] for line in git(repo, "ls-remote", remote).splitlines())
    return {ref.removeprefix(prefix) for ref in refs if ref.startswith(prefix)}


def pull(repo: Path, remote: str, names: list[str]) -> None:
    """Pull the named experiments and their outputs; a StudyError names those not pushed yet."""
    there = remote_experiments(repo, remote)
    missing = [n for n in names if n not in there]
    if missing:
        raise StudyError(
            f"--collate: {remote} has no {', '.join(missing)} for commit "
            f"{git(repo, 'rev-parse', '--short', 'HEAD')}: run their shards "
            f"({len(names) - len(missing)} of {len(names)} are there)"
        )
    dvc(repo, "exp", "pull", "--force", remote, *names)
