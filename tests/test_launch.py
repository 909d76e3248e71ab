"""The stage launcher: one process runs the stage module in place, N processes go to torchrun."""

from __future__ import annotations

import os
import sys

import torch.distributed.run

from pipeline.launch import main


def _no_torchrun(args: list[str]) -> None:
    raise AssertionError(f"torchrun started for one process: {args}")


def test_one_process_runs_the_module_in_place_with_its_arguments(tmp_path, monkeypatch):
    (tmp_path / "probe_stage.py").write_text(
        "import os, sys\n"
        "from pathlib import Path\n"
        "Path(sys.argv[2]).write_text(f'{__name__} {sys.argv[1]} {os.getpid()}')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "argv", list(sys.argv))  # the launcher sets the stage's argv
    monkeypatch.setattr(torch.distributed.run, "main", _no_torchrun)
    out = tmp_path / "out.txt"
    main(["1", "probe_stage", "synthset", str(out)])
    assert out.read_text().split() == ["__main__", "synthset", str(os.getpid())]


def test_more_processes_go_to_torchrun_standalone(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.distributed.run, "main", calls.append)
    main(["4", "pipeline.stages.train_seg", "synthset", "data/generated"])
    assert calls == [
        ["--standalone", "--nproc-per-node=4", "-m", "pipeline.stages.train_seg", "synthset",
         "data/generated"]
    ]  # fmt: skip
