"""Shared training pieces: EMA with warm-up, checkpoints guarded by a fingerprint, batch shards."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pipeline.checkpoints import load_training_state, save_training_state
from pipeline.training import (
    Dist,
    array_checksum,
    fingerprint,
    make_ema,
    make_live,
)


def test_ema_copies_first_then_warms_up_its_decay():
    model = torch.nn.Linear(2, 2, bias=False)
    assert make_ema(model, 0.0) is None
    ema = make_ema(model, 0.999)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update(model)
    torch.testing.assert_close(ema.module.weight, torch.ones(2, 2))
    with torch.no_grad():
        model.weight.fill_(2.0)
    ema.update(model)  # n = 1: decay min(0.999, 2 / 11)
    torch.testing.assert_close(ema.module.weight, torch.full((2, 2), 1 + 9 / 11))
    for _ in range(3000):
        ema.update(model)
    torch.testing.assert_close(ema.module.weight, torch.full((2, 2), 2.0), atol=1e-3, rtol=0)


def test_checkpoint_is_resumed_only_with_the_same_fingerprint(tmp_path):
    path = tmp_path / "state.pt"
    assert load_training_state(path, "abc") is None
    save_training_state(path, {"fingerprint": "abc", "epoch": 3, "w": torch.ones(2)})
    state = load_training_state(path, "abc")
    assert state["epoch"] == 3 and torch.equal(state["w"], torch.ones(2))
    assert load_training_state(path, "other") is None


def test_fingerprint_and_checksum_see_changes():
    data = np.zeros((10, 4, 4, 4), np.uint8)
    base = fingerprint({"lr": 1.0}, array_checksum(data))
    assert base == fingerprint({"lr": 1.0}, array_checksum(data.copy()))
    assert base != fingerprint({"lr": 2.0}, array_checksum(data))
    data[9, 0, 0, 0] = 1
    assert base != fingerprint({"lr": 1.0}, array_checksum(data))


@pytest.mark.parametrize("world", [1, 2, 4])
def test_shards_tile_the_global_batch(world):
    cpu = torch.device("cpu")
    slices = [Dist(rank, world, cpu).shard(8) for rank in range(world)]
    covered = [i for s in slices for i in range(8)[s]]
    assert covered == list(range(8))


def test_a_stage_live_survives_a_concurrent_experiment_removing_the_shared_step_signal(
    tmp_path, monkeypatch
):
    """Two experiments of one DVC queue share .dvc/tmp/exps/run/DVCLIVE_STEP_COMPLETED; dvclive
    checks that it exists, then removes it, so the other one can remove it in between."""
    from dvclive import vscode

    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    signal_file = tmp_path / ".dvc/tmp/exps/run/DVCLIVE_STEP_COMPLETED"
    real_exists = vscode.os.path.exists

    def the_other_removes_it_first(path):
        found = real_exists(path)
        if str(path) == str(signal_file) and found:
            signal_file.unlink()  # the other experiment's cleanup, between check and remove
        return found

    monkeypatch.setattr(vscode.os.path, "exists", the_other_removes_it_first)
    with make_live(tmp_path / "live") as live:
        live.log_metric("loss", 1.0)
        live.next_step()
        assert signal_file.is_file()
    assert (tmp_path / "live/metrics.json").is_file()
