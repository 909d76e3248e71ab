"""The package's layers: shared modules at the top of `pipeline/`, the data half, the generator
and segmentation halves (which never import each other), then the stages and the studies.

Read from the source with `ast`, as tests/test_dag.py reads the stages' import closures.
"""

from __future__ import annotations

import ast

import pytest

from tests.conftest import ROOT
from tests.test_dag import _imported_modules

PACKAGE = ROOT / "pipeline"
HALVES = ("data", "gen", "seg", "study", "stages")
# what each part of the package may not import
FORBIDDEN = {
    "shared": set(HALVES),
    "data": {"gen", "seg", "study", "stages"},
    "gen": {"seg", "study", "stages"},
    "seg": {"gen", "study", "stages"},
    "study": {"stages"},
    "stages": {"study"},
}


def part(module: str) -> str:
    """`shared` for `pipeline.x`, else the subpackage: `pipeline.gen.nets.blocks` -> `gen`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and parts[1] in HALVES else "shared"


def modules() -> dict[str, set[str]]:
    """Every module of the package with the package modules it imports."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        is_package = rel.name == "__init__"
        name = ".".join(rel.parent.parts if is_package else rel.parts)
        tree = ast.parse(path.read_text(), filename=str(path))
        found[name] = {
            m for m in _imported_modules(tree, name, is_package) if m.startswith("pipeline.")
        }
    return found


MODULES = modules()


def test_every_part_of_the_package_holds_modules():
    assert {part(m) for m in MODULES} == {"shared", *HALVES}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_imports_nothing_from_a_part_above_or_beside_it(module):
    own = part(module)
    bad = sorted(m for m in MODULES[module] if part(m) in FORBIDDEN[own] and part(m) != own)
    assert not bad, f"{module} ({own}) imports {bad}: {own} may not import {sorted(FORBIDDEN[own])}"


def test_the_check_sees_a_forbidden_import():
    tree = ast.parse("from pipeline.seg.segmentation import fit\nfrom pipeline import geometry\n")
    imported = _imported_modules(tree, "pipeline.gen.generation", is_package=False)
    assert {part(m) for m in imported} >= {"seg"} and "seg" in FORBIDDEN["gen"]
