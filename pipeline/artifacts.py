"""Every artifact path of the pipeline, relative to the repository root (dvc.yaml's deps and
outs), and the rows and columns of Table 1; the stages, the report, the studies and the tests
take them from here."""

from __future__ import annotations

from pathlib import Path

# data/: the stages' datasets
DEMO = Path("data/demo")  # the procedural demo world (the default data.root)
FRAMES = Path("data/frames")  # extract_frames: frames of the field videos
COPY_PASTE = Path("data/copy_paste")  # copy_paste: the labeler's training pairs
COPY_PASTE_CROPS = Path("data/copy_paste_crops")  # copy_paste: the Copy-Paste row's pairs
PSEUDO = Path("data/pseudo")  # pseudo_label: the pseudo-labelled frames
PREPARED = Path("data/prepared")  # prepare: crops packed per split and size
GENERATED = Path("data/generated")  # generate: the synthetic pairs
AGREED = Path("data/agreed")  # agree: the generated pairs the teacher agrees with

# models/: saved weights (config.json + model.safetensors)
LABELER = Path("models/labeler")
PSEUDO_LABELER = Path("models/pseudo_labeler")
GEN_RUN = Path("models/gen")  # train_gen's kept weights: final, best_val, min_jsd
GENERATOR = Path("models/generator")  # select_gen's choice of them
SR_RUN = Path("models/sr")  # train_sr's kept weights: final, best_val
SEG = Path("models/seg")  # train_seg and finetune: one folder per Table 1 model

LIVE = Path("dvclive")  # one dvclive folder per stage
CHECKPOINTS = Path("checkpoints")  # resumable training state per stage (not DVC-tracked)

# reports/
DEMO_FIELD_GRID = Path("reports/demo_field.png")
COPY_PASTE_GRID = Path("reports/copy_paste.png")
PSEUDO_LABEL_GRID = Path("reports/pseudo_label.png")
PREPARE_GRID = Path("reports/prepare.png")
GEN_SAMPLES = Path("reports/gen_samples.png")
GENERATED_PAIRS = Path("reports/generated_pairs.png")
SR_COMPARE = Path("reports/sr_compare.png")
TABLE1 = Path("reports/table1.json")
REPORT = Path("reports/report.md")

# Table 1: the columns of each row, where its model starts, then its fine-tunes
COLUMNS = ("synthetic", "gwhd_finetune", "all_finetune")
SUFFIXES = {"synthetic": "", "gwhd_finetune": "_gwhd", "all_finetune": "_all"}
ROWS = {
    "copy_paste": COLUMNS,  # the same U-Net trained on as many copy-paste pairs (Najafian step 1)
    "synthset": COLUMNS,  # the U-Net trained only on the generated pairs
    "pseudo": COLUMNS,  # reference: the same U-Net trained on the crops the generator learned from
    "pseudo_synthset": ("synthetic",),  # the same U-Net on those crops and the generated pairs
    "real_only": ("gwhd_finetune",),  # reference: the same U-Net from scratch on GWHD fine-tune
    "labeler": ("synthetic",),  # the teacher's start: the labeler trained on copy-paste frames
    "teacher": ("synthetic",),  # the pseudo-labeler, whose labels the generator learned
}
ROW_NAMES = {  # the rows' names in reports
    "copy_paste": "Copy-Paste",
    "synthset": "SynthSet",
    "pseudo": "reference: pseudo-labelled crops",
    "pseudo_synthset": "pseudo-labelled crops + SynthSet",
    "real_only": "reference: real only",
    "labeler": "teacher, step 1: copy-paste labeler",
    "teacher": "teacher: the pseudo-labeler",
}


def live(stage: str) -> Path:
    """The dvclive folder of a stage (or of one item of a foreach stage, e.g. train_seg_pseudo)."""
    return LIVE / stage


def checkpoint(stage: str) -> Path:
    """The resumable training state folder of a stage (or foreach item)."""
    return CHECKPOINTS / stage


def prepared(split: str, size: int) -> Path:
    """The packed crops of one split at one size: uint8 N×size×size×4."""
    return PREPARED / f"{split}_{size}.npy"


def model_name(row: str, column: str) -> str:
    """The evaluated model of a Table 1 cell: `<row>`, `<row>_gwhd` or `<row>_all`."""
    return row + SUFFIXES[column]


def evaluation(name: str, live_root: Path = LIVE) -> Path:
    """The dvclive folder of the evaluate stage of model `name` (its metrics.json holds Dice)."""
    return live_root / f"evaluate_{name}"


COHERENCE_METRICS = live("coherence") / "metrics.json"
