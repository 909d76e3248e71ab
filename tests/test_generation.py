"""Dataset generation: the manifest, binary masks, per-pair seeds, exact resumption."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from PIL import Image

from pipeline.checkpoints import save_model
from pipeline.errors import DataError
from pipeline.gen import generation, super_resolver
from pipeline.gen import generator as gen
from pipeline.gen.generation import Generation, chained_sizes, make_pairs
from pipeline.gen.nets.paired_unet import PairedUNetConfig, build_generator
from pipeline.gen.nets.sr_unet import SRUNetConfig, build_sr
from pipeline.training import close_dist, init_dist
from tests.conftest import CPU, SPEC, TINY_NET, files, free_port, tiny_generation


def test_sizes_come_from_the_weights_and_must_chain(tmp_path, nets):
    folders = nets["folders"]
    loaded = gen.load(folders["generator"]), super_resolver.load(folders["sr"])
    assert chained_sizes(*loaded, folders["generator"], folders["sr"]) == (8, 2)
    wide = SRUNetConfig(**TINY_NET, sample_size=32, factor=2)
    save_model(build_sr(wide), wide, tmp_path / "sr32")
    with pytest.raises(DataError, match=r"sr32/config.json: the super-resolver enlarges 16px"):
        chained_sizes(
            loaded[0],
            super_resolver.load(tmp_path / "sr32"),
            folders["generator"],
            tmp_path / "sr32",
        )
    old = PairedUNetConfig(**TINY_NET)
    save_model(build_generator(old), old, tmp_path / "old")
    with pytest.raises(DataError, match=r"old/config.json records no sample_size"):
        chained_sizes(gen.load(tmp_path / "old"), loaded[1], tmp_path / "old", tmp_path)


def test_weights_of_another_data_range_are_refused(tmp_path, nets):
    folder = tmp_path / "gen"
    shutil.copytree(nets["folders"]["generator"], folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "data_range": [0, 1]}))
    with pytest.raises(DataError, match=r"gen/config.json does not describe a generator: data_r"):
        gen.load(folder)


def test_the_manifest_lists_every_pair_and_masks_are_strictly_0_or_255(tmp_path, nets):
    manifest = tiny_generation(nets).run(tmp_path / "out", tmp_path / "staging")
    assert list(manifest["index"]) == list(range(SPEC.n))
    assert manifest["id"].is_unique
    for row in manifest.itertuples():
        image = np.asarray(Image.open(tmp_path / "out" / row.image))
        mask = np.asarray(Image.open(tmp_path / "out" / row.mask))
        assert image.shape == (16, 16, 3) and mask.shape == (16, 16)
        assert row.mask_fraction == pytest.approx((mask > 0).mean(), abs=1e-6)
        low = np.asarray(Image.open(tmp_path / "out" / row.lowres_mask))
        assert low.shape == (8, 8)
    assert {"seed", "sampler", "steps", "sr_sampler", "sr_steps", "generator", "sr"} <= set(
        manifest.columns
    )
    assert (tmp_path / "out/manifest.csv").is_file() and not (tmp_path / "staging").exists()


def test_a_pair_generated_alone_equals_the_same_pair_in_a_batch(nets):
    batch = make_pairs([3, 4, 5], nets["generator"], nets["sr"], SPEC, CPU.device)
    alone = make_pairs([4], nets["generator"], nets["sr"], SPEC, CPU.device)
    other = make_pairs([6], nets["generator"], nets["sr"], SPEC, CPU.device)
    for field in ("lowres_images", "images"):
        diff = np.abs(getattr(batch, field)[1].astype(int) - getattr(alone, field)[0].astype(int))
        assert diff.max() <= 1
        assert np.abs(getattr(other, field)[0].astype(int) - getattr(alone, field)[0]).max() > 10
    np.testing.assert_array_equal(batch.lowres_masks[1], alone.lowres_masks[0])


def test_a_resumed_run_writes_exactly_the_files_of_an_uninterrupted_one(
    tmp_path, nets, monkeypatch
):
    tiny_generation(nets).run(tmp_path / "whole", tmp_path / "staging_whole")
    writes = {"n": 0}
    original = generation.write_rgb

    def die_in_the_second_batch(path, image):
        writes["n"] += 1
        if writes["n"] == 8:  # batch 1 has written some of its PNGs, not its manifest rows
            raise KeyboardInterrupt
        original(path, image)

    monkeypatch.setattr(generation, "write_rgb", die_in_the_second_batch)
    with pytest.raises(KeyboardInterrupt):
        tiny_generation(nets).run(tmp_path / "cut", tmp_path / "staging")
    assert not (tmp_path / "cut").exists()
    assert [p.name for p in (tmp_path / "staging/rows").iterdir()] == ["000000.csv"]
    leftovers = [p for p in (tmp_path / "staging").rglob(".*") if p.is_file()]
    assert leftovers == []  # the interrupted PNG was never renamed into place
    monkeypatch.setattr(generation, "write_rgb", original)
    made = []
    real_write_batch = Generation.write_batch

    def count(self, staging, number, indices):
        made.append(number)
        return real_write_batch(self, staging, number, indices)

    monkeypatch.setattr(Generation, "write_batch", count)
    tiny_generation(nets).run(tmp_path / "cut", tmp_path / "staging")
    assert made == [1, 2]
    assert files(tmp_path / "cut") == files(tmp_path / "whole")


def test_staged_pairs_of_other_params_are_discarded(tmp_path, nets, monkeypatch):
    monkeypatch.setattr(
        Generation, "write_batch", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt)
    )
    with pytest.raises(KeyboardInterrupt):
        tiny_generation(nets).run(tmp_path / "out", tmp_path / "staging")
    monkeypatch.undo()
    (tmp_path / "staging/rows/000000.csv").write_text("id\nstale\n")
    manifest = tiny_generation(nets, replace(SPEC, steps=5)).run(
        tmp_path / "out", tmp_path / "staging"
    )
    assert "stale" not in set(manifest["id"]) and len(manifest) == SPEC.n


def test_pair_set_one_is_the_next_n_pairs_of_the_same_weights(tmp_path, nets):
    six = tiny_generation(nets, replace(SPEC, n=6)).run(tmp_path / "six", tmp_path / "staging")
    second = tiny_generation(nets, replace(SPEC, n=3, pair_set=1))
    manifest = second.run(tmp_path / "second", tmp_path / "staging")
    assert list(manifest["index"]) == [3, 4, 5]
    later = six[six["index"] >= 3].reset_index(drop=True)
    assert list(manifest["id"]) == list(later["id"])
    for column in ("image", "mask", "lowres_mask"):
        for ours, theirs in zip(manifest[column], later[column], strict=True):
            a = np.asarray(Image.open(tmp_path / "second" / ours)).astype(int)
            b = np.asarray(Image.open(tmp_path / "six" / theirs)).astype(int)
            assert np.abs(a - b).max() <= (0 if "mask" in column else 1)


def _generate_rank(rank: int, world: int, port: int, root: str, nets: dict, spec) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(world), RANK=str(rank)
    )
    torch.set_num_threads(1)
    dist = init_dist()
    try:
        folders = nets["folders"]
        generator, sr = gen.load(folders["generator"]), super_resolver.load(folders["sr"])
        generation = Generation(spec, generator, sr, nets["weights"], dist)
        real = generation.write_batch

        def record(staging, number, indices):
            with open(Path(root) / f"made_by_{rank}.txt", "a") as f:
                f.write(f"{number}\n")
            return real(staging, number, indices)

        generation.write_batch = record
        generation.run(Path(root) / "two", Path(root) / "staging")
    finally:
        close_dist(dist)


@pytest.mark.e2e  # two spawned processes, each importing torch and the pipeline
def test_two_processes_resume_a_killed_run_into_exactly_the_files_of_one(
    tmp_path, nets, monkeypatch
):
    spec = replace(SPEC, n=10)  # four batches: rank 0 makes 1 and 3, rank 1 makes 2
    tiny_generation(nets, spec).run(tmp_path / "one", tmp_path / "staging_one")
    with monkeypatch.context() as m:
        real, made = Generation.write_batch, []

        def killed_after_one_batch(self, staging, number, indices):
            if made:
                raise KeyboardInterrupt
            made.append(number)
            return real(self, staging, number, indices)

        m.setattr(Generation, "write_batch", killed_after_one_batch)
        with pytest.raises(KeyboardInterrupt):
            tiny_generation(nets, spec).run(tmp_path / "two", tmp_path / "staging")
    shared = {k: nets[k] for k in ("folders", "weights")}
    mp.spawn(_generate_rank, args=(2, free_port(), str(tmp_path), shared, spec), nprocs=2)
    assert files(tmp_path / "two") == files(tmp_path / "one")
    assert not (tmp_path / "staging").exists()
    made = [(tmp_path / f"made_by_{r}.txt").read_text().split() for r in (0, 1)]
    assert made == [["1", "3"], ["2"]]
