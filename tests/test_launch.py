"""The stage launcher: one process runs the stage module in place, N processes go to torchrun,
several nodes meet at a c10d rendezvous and train what the same processes train on one node."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed.run

from pipeline.errors import ParamsError
from pipeline.launch import main, rendezvous
from tests.conftest import free_port, weights

ROOT = Path(__file__).resolve().parents[1]


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


def test_several_nodes_meet_at_the_rendezvous_the_environment_names(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.distributed.run, "main", calls.append)
    monkeypatch.setenv("MASTER_ADDR", "node0")
    monkeypatch.delenv("MASTER_PORT", raising=False)
    monkeypatch.delenv("PET_RDZV_ENDPOINT", raising=False)
    monkeypatch.delenv("PET_RDZV_ID", raising=False)
    monkeypatch.setenv("SLURM_JOB_ID", "417")
    main(["--nnodes", "2", "1", "pipeline.stages.train_gen"])
    assert calls == [
        ["--nnodes=2", "--rdzv-backend=c10d", "--rdzv-endpoint=node0:29400", "--rdzv-id=417",
         "--nproc-per-node=1", "-m", "pipeline.stages.train_gen"]
    ]  # fmt: skip
    assert rendezvous({"PET_RDZV_ENDPOINT": "h:1", "MASTER_ADDR": "x"})[1] == "--rdzv-endpoint=h:1"


def test_several_nodes_without_an_endpoint_is_one_clear_error(monkeypatch):
    for name in ("PET_RDZV_ENDPOINT", "MASTER_ADDR"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ParamsError, match="PET_RDZV_ENDPOINT"):
        main(["--nnodes", "2", "1", "pipeline.stages.train_gen"])


def _launch(*args: str, env: dict[str, str]) -> subprocess.Popen:
    command = [sys.executable, "-m", "pipeline.launch", *args]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)


@pytest.mark.e2e  # four torchrun processes, each importing torch: a whole command
def test_two_nodes_train_exactly_the_weights_of_two_processes_on_one_node(tmp_path):
    """Two launchers on the loopback address, one process each (gloo), act as two nodes."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    assert _launch("2", "tests.ddp_probe", str(tmp_path / "one"), env=env).wait(120) == 0
    env |= {  # PET_LOCAL_ADDR: the workers meet at the loopback address, not this host's name
        "PET_RDZV_ENDPOINT": f"127.0.0.1:{free_port()}",
        "PET_RDZV_ID": "two-nodes",
        "PET_LOCAL_ADDR": "127.0.0.1",
    }
    nodes = [
        _launch("--nnodes", "2", "1", "tests.ddp_probe", str(tmp_path / "two"), env=env)
        for _ in range(2)
    ]
    try:
        assert [node.wait(120) for node in nodes] == [0, 0]
    finally:
        for node in nodes:  # a node left alone waits for its peer until the join timeout
            node.kill()
    one, two = weights(tmp_path / "one/models/final"), weights(tmp_path / "two/models/final")
    assert one.keys() == two.keys()
    for key, value in one.items():
        torch.testing.assert_close(two[key], value, rtol=0, atol=0)
