"""DVC's command line, run from Python for the commands that have no API (queue, exp, diffs)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pipeline.errors import PipelineError

ENV = {"DVC_NO_ANALYTICS": "1"}


class DvcError(PipelineError):
    """A DVC command failed; the message is DVC's own."""


def dvc(repo: Path, *args: str) -> str:
    """Run `dvc ARGS` in the repo and return its standard output."""
    done = subprocess.run(
        [sys.executable, "-m", "dvc", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**os.environ, **ENV},
    )
    if done.returncode != 0:
        raise DvcError(f"dvc {' '.join(args)} failed: {(done.stderr or done.stdout).strip()}")
    return done.stdout
