"""The studies: which experiments each of the paper's tables and figures needs, and what to read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pipeline import artifacts
from pipeline.artifacts import COLUMNS, ROW_NAMES

TABLE1 = artifacts.TABLE1.as_posix()
COHERENCE = artifacts.COHERENCE_METRICS.as_posix()
EMBEDDINGS = "embeddings"  # computed by the study from each experiment's outputs, not a file
TIMING = "timing"  # measured by the study with each experiment's weights, not a file


@dataclass(frozen=True)
class Variant:
    """One setting of a study: a slug for experiment names, a row label, its `-S` overrides."""

    slug: str
    label: str
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Column:
    """One reported number: a metrics file, a dotted key (`{row}` is the Table 1 row) and a header.

    A column without `{row}` describes the generated data, so only SynthSet rows get it.
    """

    file: str
    key: str
    header: str

    def path(self, row: str) -> str | None:
        if "{row}" not in self.key and row != "synthset":
            return None
        return self.key.format(row=row)


@dataclass(frozen=True)
class Study:
    """A grid of experiments (variants × seeds) and the table it is collated into."""

    name: str
    title: str
    paper: str  # where the paper has it
    full: tuple[Variant, ...]
    reduced: tuple[Variant, ...]
    columns: tuple[Column, ...]
    references: tuple[tuple[str, str], ...] = ()  # (Table 1 row, label) read from the first variant
    embeddings: bool = False  # Fig. 9: embed each experiment's generated images
    timing: bool = False  # time each experiment's generation settings on this machine
    note: str = ""  # what the reader must know to read the table
    demo_cost: str = "not measured yet"  # minutes per experiment, demo profile, 2-core CPU
    # pairs: each setting's generated pairs; zoom: one pair enlarged with its difference to the
    # first setting's (settings that differ in detail only); none
    samples: Literal["pairs", "zoom", "none"] = "pairs"

    def variants(self, grid: str) -> tuple[Variant, ...]:
        return self.full if grid == "full" else self.reduced


def _table1_columns(columns: tuple[str, ...] = COLUMNS) -> tuple[Column, ...]:
    names = {"synthetic": "synthetic", "gwhd_finetune": "+ GWHD", "all_finetune": "+ all"}
    return tuple(
        Column(TABLE1, f"{{row}}.{c}.{k}", f"{names[c]} {metric}")
        for c in columns
        for k, metric in (("dice", "Dice"), ("iou", "IoU"))
    )


COHERENCE_COLUMNS = (
    Column(COHERENCE, "labeler.dice", "labeler Dice on generated"),
    Column(COHERENCE, "mask_fraction.generated_mean", "generated mask fraction"),
)
DOWNSTREAM = _table1_columns(("synthetic", "gwhd_finetune"))
SECONDS_PER_PAIR = "s per pair"
BEYOND_PAPER = "beyond the paper"  # a study's `paper` when the paper has no such study

CONCAT = Variant("concat", "Concat", {"gen.arch": "concat", "gen.discriminator": "false"})
CONCAT_D = Variant(
    "concat-disc", "Concat + discriminator", {"gen.arch": "concat", "gen.discriminator": "true"}
)
SHARED = Variant(
    "shared", "SharedEncoder", {"gen.arch": "shared_encoder", "gen.discriminator": "false"}
)
TWO = Variant("two", "TwoEncoder", {"gen.arch": "two_encoder", "gen.discriminator": "false"})
TWO_D = Variant(
    "two-disc",
    "TwoEncoder + discriminator",
    {"gen.arch": "two_encoder", "gen.discriminator": "true"},
)
# `auto` turns the schedule on with the discriminator: the schedule setting then has exactly the
# params of table1's row of the profile's architecture + discriminator (Concat + discriminator in
# the demo and field profiles), so DVC's run-cache gives it that row's trained generator
DISC_SCHEDULES = tuple(
    Variant(
        f"disc-{slug}",
        f"discriminator, {label}",
        {"gen.discriminator": "true", "gen.curriculum": curriculum},
    )
    for slug, label, curriculum in (
        ("schedule", "t_max schedule", "auto"),
        ("no-schedule", "no schedule", "false"),
    )
)
ARCHS = {"concat": "Concat", "shared_encoder": "SharedEncoder", "two_encoder": "TwoEncoder"}


def _sr(sampler: str, steps: int, pair_set: int) -> Variant:
    return Variant(
        f"sr-{sampler}{steps}" + (f"-set{pair_set}" if pair_set else ""),
        f"SR {sampler.upper()} {steps}, pair set {pair_set}",
        {
            "generate.sr_sampler": sampler,
            "generate.sr_steps": str(steps),
            "generate.sr_eta": "0.0",
            "generate.pair_set": str(pair_set),
        },
    )


def _weights(arch: str, weights: str) -> Variant:
    return Variant(
        f"{arch.replace('_', '-')}-{weights.replace('_', '-')}",
        f"{ARCHS[arch]}, `{weights}`",
        {"gen.arch": arch, "gen.discriminator": "false", "select_gen.weights": weights},
    )


def _sampler(sampler: str, steps: int) -> Variant:
    name = {"ddpm": "DDPM", "ddim": "DDIM", "dpmsolver++": "DPM-Solver++", "unipc": "UniPC"}
    return Variant(
        f"gen-{sampler.replace('+', 'p')}{steps}",
        f"{name[sampler]} {steps}",
        {"generate.sampler": sampler, "generate.steps": str(steps), "generate.eta": "0.0"},
    )


WEIGHTS = ("final", "best_val", "min_jsd")
WEIGHTS_FULL = tuple(_weights(a, w) for a in ARCHS for w in WEIGHTS)  # weight_selection, embeddings
WEIGHTS_REDUCED = tuple(_weights("concat", w) for w in WEIGHTS)

STUDIES = {
    s.name: s
    for s in (
        Study(
            "table1",
            "Table 1: generator architectures against Copy-Paste",
            "Table 1, Fig. 4",
            full=(CONCAT, CONCAT_D, SHARED, TWO, TWO_D),
            reduced=(CONCAT,),
            columns=_table1_columns(),
            references=tuple(
                (row, ROW_NAMES[row])
                for row in ("copy_paste", "pseudo", "pseudo_synthset", "real_only", "teacher")
            ),
            demo_cost="17-21 min per experiment alone, 38-54 with two at once (every stage)",
        ),
        Study(
            "sr_steps",
            "Super-resolution sampler and steps",
            "Appendix C, Tables 2-3, Fig. 6",
            full=tuple(
                _sr(sampler, n, pair_set)
                for pair_set in (0, 1)
                for sampler, n in (
                    *(("ddpm", n) for n in (1000, 500, 250, 100)),
                    *(("ddim", n) for n in (500, 250, 100)),
                )
            ),
            reduced=tuple(
                _sr(sampler, n, pair_set)
                for pair_set in (0, 1)
                for sampler, n in (("ddpm", 25), ("ddpm", 100), ("ddim", 100))
            ),
            note=(
                "Pair set s holds pairs s·n … s·n + n - 1 of the same trained generator and"
                " super-resolver (`generate.pair_set`): the paper's two image batches."
            ),
            columns=DOWNSTREAM + COHERENCE_COLUMNS,
            demo_cost="9 (DDPM 25) to 14 (DDIM 100) min per experiment, two at once"
            " (generate onwards)",
            samples="zoom",
        ),
        Study(
            "weight_selection",
            "Which generator weights to keep",
            "Fig. 8",
            full=WEIGHTS_FULL,
            reduced=WEIGHTS_REDUCED,
            columns=DOWNSTREAM + COHERENCE_COLUMNS,
            demo_cost="under 1.3 (final weights kept) to 9.9 min per experiment",
        ),
        Study(
            "embeddings",
            "Spread and coverage of the generated images per weight selection",
            "Fig. 9",
            full=WEIGHTS_FULL,
            reduced=WEIGHTS_REDUCED,
            columns=(
                Column(EMBEDDINGS, "spread", "spread (variance ratio)"),
                Column(EMBEDDINGS, "coverage", "coverage (k=5)"),
                *COHERENCE_COLUMNS,
            ),
            embeddings=True,
            demo_cost="0.6 min for all 6 (it reads weight_selection's experiments)",
            samples="none",  # its PCA figure shows the images; the pairs are weight_selection's
            note=(
                "Embedding network: the deepest encoder features, averaged over space, of"
                " `models/pseudo_labeler` (the U-Net trained on copy-paste pairs and self-trained"
                " on the pseudo-labelled real frames; no downloaded weights), each image resized"
                " to its training crop. spread: total variance of the generated images'"
                " embeddings over that of the training crops (1: as spread). coverage: share of"
                " training crops with a generated image inside the ball to their 5th-nearest"
                " training neighbour (Naeem et al. 2020; 1: every mode reached)."
            ),
        ),
        Study(
            "discriminator_schedule",
            "Discriminator with and without the t_max schedule",
            "Fig. 7",
            full=(CONCAT, *DISC_SCHEDULES),
            reduced=DISC_SCHEDULES,
            columns=DOWNSTREAM + COHERENCE_COLUMNS,
            demo_cost="26 min per experiment that trains a generator (every stage, two at once);"
            " Concat and the schedule setting reuse table1's runs",
        ),
        Study(
            "samplers",
            "Generator sampler and steps against downstream Dice",
            BEYOND_PAPER,
            full=(
                _sampler("ddpm", 1000),
                _sampler("ddim", 100),
                _sampler("ddim", 50),
                _sampler("dpmsolver++", 50),
                _sampler("dpmsolver++", 20),
                _sampler("unipc", 20),
            ),
            reduced=(
                _sampler("ddpm", 100),
                _sampler("ddim", 50),
                _sampler("dpmsolver++", 20),
                _sampler("unipc", 20),
            ),
            columns=(
                *DOWNSTREAM,
                *COHERENCE_COLUMNS,
                Column(TIMING, "seconds_per_pair", SECONDS_PER_PAIR),
            ),
            demo_cost="11-13 min per experiment, two at once (generate onwards)",
            timing=True,
            note=(
                "s per pair: generator + super-resolver sampling of one batch of 8 pairs with each"
                " experiment's own weights, timed by the study after the grid ran, one experiment"
                " at a time, on the machine that ran it (`pipeline/study/timing.py`)."
            ),
        ),
    )
}
