"""Run a grid of DVC experiments through `dvc queue` and read their params and metrics back."""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml
from dvc.api import DVCFileSystem

from pipeline.dvc_cli import ENV, DvcError, dvc
from pipeline.errors import PipelineError

log = logging.getLogger(__name__)

ACTIVE = ("Queued", "Running")
TIMES = Path(".dvc/tmp/study-times.jsonl")  # each finished experiment's run time on this machine
MESSAGE = "study experiment {name} on {host}"
HOST = re.compile(r"^study experiment \S+ on (\S+)$")


class StudyError(PipelineError):
    """A DVC command of a study failed, or an experiment of the grid did not finish."""


@dataclass(frozen=True)
class Experiment:
    """One queued DVC experiment: its name and its `-S key=value` overrides."""

    name: str
    params: dict[str, str]


@dataclass(frozen=True)
class Result:
    """A finished experiment as `dvc exp show --json` reports it."""

    name: str
    rev: str
    params: dict
    metrics: dict[str, dict]


def show(repo: Path, tries: int = 4, pause: float = 10.0) -> list[dict]:
    """`dvc exp show --json`, tried again a few times: it also reads the workspaces of the
    experiments running meanwhile (another study's, say) and fails while one is being set up
    (seen: "directory '.dvc/tmp/exps/tmp…/.dvc' does not exist")."""
    attempt = 1
    while True:
        try:
            return json.loads(dvc(repo, "exp", "show", "--json", "--force"))
        except DvcError as err:
            if attempt == tries:
                raise
            log.info("%s; trying again in %.0f s", err, pause)
            time.sleep(pause)
            attempt += 1


def results(repo: Path) -> dict[str, Result]:
    """The finished experiments of the current commit, by name."""
    found = {}
    for baseline in show(repo):
        for exp in baseline.get("experiments") or ():
            # queued, running and failed ones are listed too, with their baseline's numbers
            if (exp.get("executor") or {}).get("state", "success") != "success":
                continue
            for rev in exp.get("revs") or ():
                data = rev.get("data") or {}
                if not rev.get("name") or not data.get("metrics"):
                    continue
                params = data.get("params", {}).get("params.yaml", {}).get("data", {})
                metrics = {path: m.get("data", {}) for path, m in data["metrics"].items()}
                found[rev["name"]] = Result(rev["name"], rev["rev"], params, metrics)
    return found


def fetch(repo: Path, rev: str, path: str, into: Path) -> Path:
    """Copy a tracked file or folder of an experiment's revision into `into`; its new path."""
    DVCFileSystem(str(repo), rev=rev).get(path, str(into / Path(path).name), recursive=True)
    return into / Path(path).name


def param(params: dict, key: str):
    """A dotted params.yaml key's value, or None."""
    node = params
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def matches(result: Result, experiment: Experiment) -> bool:
    """Whether a finished experiment ran with exactly these overrides (compared as YAML values)."""
    return all(
        param(result.params, key) == yaml.safe_load(value)
        for key, value in experiment.params.items()
    )


def short_commit(folder: Path) -> str:
    """The abbreviated commit a git workspace has checked out ("" outside git)."""
    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=folder, capture_output=True, text=True
    ).stdout.strip()


def git(repo: Path, *args: str) -> str:
    """Run `git ARGS` in the repo and return its standard output, stripped."""
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
    if done.returncode != 0:
        raise StudyError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def host(repo: Path, result: Result) -> str:
    """The host that ran an experiment, as its commit message names it ("" when it has none)."""
    match = HOST.match(git(repo, "log", "-1", "--format=%s", result.rev))
    return match[1] if match else ""


def workspace_result(folder: Path, files: set[str]) -> Result:
    """A workspace where `dvc repro` finished, read like an experiment: its params.yaml, the
    metrics `files` it holds, and its commit."""
    if not (folder / "params.yaml").is_file():
        raise StudyError(f"{folder} is not a finished workspace: it has no params.yaml")
    params = yaml.safe_load((folder / "params.yaml").read_text())
    metrics = {f: json.loads((folder / f).read_text()) for f in files if (folder / f).is_file()}
    return Result(folder.name, short_commit(folder), params, metrics)


def queue_status(repo: Path) -> tuple[dict[str, str], int]:
    """{experiment name: status} of the tasks `dvc queue status` lists, and the live workers."""
    status, workers = {}, 0
    for line in dvc(repo, "queue", "status").splitlines():
        words = line.split()
        if line.startswith("Worker status:"):
            workers = int(words[2]) + int(words[4])  # "N active, M idle"
        elif len(words) >= 3 and words[-1] in (*ACTIVE, "Success", "Failed"):
            status[words[1]] = words[-1]
    return status, workers


def visible_gpus(environ: dict[str, str]) -> list[str]:
    """The GPUs the study may hand out: CUDA_VISIBLE_DEVICES, else every GPU torch sees."""
    if "CUDA_VISIBLE_DEVICES" in environ:
        return [g.strip() for g in environ["CUDA_VISIBLE_DEVICES"].split(",") if g.strip()]
    import torch

    return [str(i) for i in range(torch.cuda.device_count())]


def worker_env(k: int, jobs: int, environ: dict[str, str], gpus: list[str]) -> dict[str, str]:
    """The environment of queue worker k (1..jobs), which its experiments inherit: its own share
    of the GPUs (an equal run of them when there are at least `jobs`, else one, in turn) and of
    the CPU cores (OMP_NUM_THREADS, unless the caller set it)."""
    env = {**environ, **ENV}
    if gpus:
        if len(gpus) >= jobs:
            share = len(gpus) // jobs
            mine = gpus[(k - 1) * share : k * share]
        else:
            mine = [gpus[(k - 1) % len(gpus)]]
        env["CUDA_VISIBLE_DEVICES"] = ",".join(mine)
    if "OMP_NUM_THREADS" not in environ:
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // jobs))
    return env


def live_workers(repo: Path) -> set[int]:
    """The numbers k of the repo's queue workers that answer (DVC names worker k
    `dvc-exp-<hash>-k@localhost`)."""
    from dvc.repo import Repo

    with Repo(str(repo)) as dvc_repo:
        nodes = dvc_repo.experiments.celery_queue.worker_status()
    return {int(node.split("@")[0].rsplit("-", 1)[1]) for node in nodes}


def start_workers(repo: Path, jobs: int, ready: float = 60.0) -> None:
    """Start the missing ones of `jobs` queue workers, each with its own environment (its GPUs
    and threads). `dvc queue start --jobs k` spawns every one of workers 1..k that does not
    answer, in the environment it is given, so they are started in order, each once the one
    before answers (within `ready` seconds): asked for at once, a second worker 1 started
    (seen: three workers for two jobs, one of them then told to shut down). The workers outlive
    the command, so they must not hold our pipes."""
    gpus = visible_gpus(dict(os.environ))
    for k in range(1, jobs + 1):
        if k in live_workers(repo):
            continue
        subprocess.run(
            [sys.executable, "-m", "dvc", "queue", "start", "--jobs", str(k)],
            cwd=repo,
            env=worker_env(k, jobs, dict(os.environ), gpus),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=True,
        )
        deadline = time.monotonic() + ready
        while k not in live_workers(repo) and time.monotonic() < deadline:
            time.sleep(1.0)


def clear_leftovers(repo: Path, names: set[str]) -> set[str]:
    """Clear what an interrupted study left in the queue under these names, so that each is
    queued once more from the current commit: failed tasks (a task keeps its name), queued ones,
    and running ones whose workers are gone (a reboot leaves them listed as running). Returns
    the names still running on live workers (a study stopped while its workers went on): those
    are waited for, not queued twice."""
    listed, workers = queue_status(repo)
    left = {n: s for n, s in listed.items() if n in names}
    running = {n for n, s in left.items() if s == "Running"}
    if running and not workers:
        dvc(repo, "queue", "kill", *sorted(running))
    cleared = sorted(n for n, s in left.items() if s != "Running" or not workers)
    if cleared:
        dvc(repo, "queue", "remove", *cleared)
    return running if workers else set()


def run(
    repo: Path, experiments: list[Experiment], jobs: int, poll: tuple[float, float] = (5.0, 30.0)
) -> dict:
    """Queue the experiments not already finished, run them with `jobs` workers and wait,
    looking at the queue after `poll[0]` seconds, then half as long again each time up to
    `poll[1]`: each look is a `dvc queue status` process (3.8 s of CPU on a busy 2-core VM), so
    a steady 5-second poll took most of a core from the experiments.

    Returns {name: seconds} for the experiments run now (time seen running, to the poll).
    """
    done = results(repo)
    todo = [e for e in experiments if not (e.name in done and matches(done[e.name], e))]
    stale = [e.name for e in todo if e.name in done]
    if stale:
        dvc(repo, "exp", "remove", *stale)
    running = clear_leftovers(repo, {e.name for e in todo})
    for exp in (e for e in todo if e.name not in running):
        overrides = [arg for key, value in exp.params.items() for arg in ("-S", f"{key}={value}")]
        text = MESSAGE.format(name=exp.name, host=socket.gethostname())
        dvc(repo, "exp", "run", "--queue", "--name", exp.name, "--message", text, *overrides)
    log.info(
        "%d experiments queued%s, %d already finished",
        len(todo) - len(running),
        f", {len(running)} still running" if running else "",
        len(experiments) - len(todo),
    )
    if not todo:
        return {}
    start_workers(repo, jobs)
    last_start = time.monotonic()
    names = {e.name for e in todo}
    started: dict[str, float] = {}
    seconds: dict[str, float] = {}
    wait = poll[0]
    while True:
        listed, workers = queue_status(repo)
        status = {n: s for n, s in listed.items() if n in names}
        now = time.monotonic()
        for name, state in status.items():
            if state == "Running":
                started.setdefault(name, now)
            elif state in ("Success", "Failed") and name not in seconds:
                seconds[name] = now - started.get(name, now)
                log.info("%s: %s after %.0f s", name, state.lower(), seconds[name])
                record_time(repo, name, state, seconds[name])
        if not any(state in ACTIVE for state in status.values()):
            break
        # a killed task can take its worker along, and a worker told to shut down leaves when
        # its task ends: keep `jobs` of them while tasks wait
        short = not workers or (workers < jobs and "Queued" in status.values())
        if short and now - last_start > 30:
            start_workers(repo, jobs)
            last_start = now
        time.sleep(wait)
        wait = min(poll[1], wait * 1.5)
    failed = sorted(n for n, s in status.items() if s == "Failed")
    missing = sorted(names - set(results(repo)))
    if failed or missing:
        logs = "\n".join(_tail(repo, name) for name in failed)
        raise StudyError(f"experiments did not finish: {', '.join(failed or missing)}\n{logs}")
    return seconds


def record_time(repo: Path, name: str, state: str, seconds: float) -> None:
    """Keep an experiment's run time beside the repository, so that a report written by a later
    run (after an interruption, or a failure past the grid) still gives it."""
    entry = {"name": name, "state": state, "seconds": round(seconds, 1), "at": time.time()}
    (repo / TIMES).parent.mkdir(parents=True, exist_ok=True)
    with (repo / TIMES).open("a") as f:
        f.write(json.dumps(entry) + "\n")


def recorded_times(repo: Path) -> dict[str, float]:
    """{experiment name: seconds} of its latest successful run recorded on this machine."""
    path = repo / TIMES
    if not path.is_file():
        return {}
    lines = (json.loads(line) for line in path.read_text().splitlines() if line.strip())
    return {e["name"]: e["seconds"] for e in lines if e["state"] == "Success"}


def _tail(repo: Path, name: str, lines: int = 20) -> str:
    try:
        text = dvc(repo, "queue", "logs", name)
    except PipelineError as err:
        text = str(err)
    return f"--- {name}:\n" + "\n".join(text.splitlines()[-lines:])
