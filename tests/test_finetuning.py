"""Fine-tuning: starts from the given weights, at the model's scale, with self-training rounds."""

from __future__ import annotations

import numpy as np
import torch
from dvclive import Live

from pipeline.data.layout import RawLayout
from pipeline.datasets import write_pair
from pipeline.params import FinetuneParams
from pipeline.seg import finetuning
from pipeline.seg.finetuning import finetune_gwhd, gwhd_finetune_set, self_train
from pipeline.seg.segmentation import FitRun, SegModelConfig, build_unet

CONFIG = SegModelConfig("mobilenet_v2", 2, [8, 8], size=16, scale=0.5)
P = FinetuneParams(epochs=1, rounds=1, frame_epochs=1, batch_size=4, lr=0.01)


def _pairs(n: int, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    return images, images[..., 0] > 128


def _flat(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([v.detach().float().flatten() for v in model.state_dict().values()])


def test_the_gwhd_set_is_read_at_the_models_scale(tmp_path):
    images, masks = _pairs(2, 40)
    for k in range(2):
        write_pair(tmp_path / "gwhd/finetune", f"f{k}", images[k], masks[k])
    gwhd_images, gwhd_masks = gwhd_finetune_set(RawLayout(tmp_path), frame_size=32, scale=0.5)
    assert gwhd_images.shape == (2, 16, 16, 3) and gwhd_masks.shape == (2, 16, 16)


def test_fine_tuning_starts_from_the_given_weights(tmp_path):
    torch.manual_seed(0)
    base = build_unet(CONFIG)
    torch.manual_seed(1)
    fresh = build_unet(CONFIG)
    start = _flat(base)
    with Live(str(tmp_path / "live"), dvcyaml=False, save_dvc_exp=False) as live:
        finetune_gwhd(base, CONFIG, _pairs(8, 16), P, FitRun(0, live))
    tuned = _flat(base.cpu())
    assert not torch.equal(tuned, start)
    assert (tuned - start).norm() < 0.1 * (_flat(fresh) - start).norm()


def test_self_training_runs_its_rounds_then_the_gwhd_fine_tune(tmp_path, monkeypatch):
    calls = []
    real_fit = finetuning.fit

    def record(model, train, val, p, run):
        calls.append((len(train[0]), p.epochs, p.size, run.seed, run.phase))
        return real_fit(model, train, val, p, run)

    monkeypatch.setattr(finetuning, "fit", record)
    model = build_unet(CONFIG)
    frames, _ = _pairs(6, 16, seed=2)
    with Live(str(tmp_path / "live"), dvcyaml=False, save_dvc_exp=False) as live:
        self_train(
            model,
            CONFIG,
            frames,
            _pairs(4, 16),
            FinetuneParams(rounds=2, epochs=1, frame_epochs=1, batch_size=4),
            FitRun(5, live),
        )
    # each round seeded and phased apart, the fine-tune with the run's own seed, last phase
    assert calls == [(6, 1, 16, 6, 0), (6, 1, 16, 7, 1), (4, 1, 16, 5, 2)]
