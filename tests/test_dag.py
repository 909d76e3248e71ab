"""dvc.yaml code deps match each stage's static import closure inside `pipeline/`.

A stage whose deps miss a module it imports keeps stale outputs that `dvc status` calls up to
date; a stage that lists code it does not import re-runs for nothing. The closure is read from
the source with `ast` (nothing is imported), so the check needs neither torch nor the data.
"""

from __future__ import annotations

import ast
import hashlib
import re
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

PACKAGE = "pipeline"
STAGE_MODULE = re.compile(r"(?:^|\s)-m\s+([\w.]+)")
LAUNCHER = "pipeline.launch"


def module_file(module: str, root: Path) -> Path | None:
    """The file of a dotted module under root: `a/b.py` or `a/b/__init__.py`, else None."""
    base = root.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def has_code(tree: ast.Module) -> bool:
    """Whether a module holds anything besides an optional docstring."""
    body = tree.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return bool(body)


def _imported_modules(tree: ast.Module, module: str, is_package: bool) -> set[str]:
    """Dotted names of the modules that `module`'s import statements may load."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = module.split(".") if is_package else module.split(".")[:-1]
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*parts, node.module] if node.module else parts)
            else:
                base = node.module or ""
            found.add(base)
            # `from pkg import name` loads pkg.name when name is a submodule
            found.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return found


def import_closure(module: str, root: Path, package: str = PACKAGE) -> set[str]:
    """Files (posix, relative to root) that importing `module` executes inside `package`.

    Follows absolute and relative imports anywhere in a module's source. Importing `a.b.c`
    also runs `a/__init__.py` and `a/b/__init__.py`: those count only when they hold code
    besides a docstring. A `from x import name` whose name is no submodule adds only x.
    """
    files: set[str] = set()
    seen: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen or not (name == package or name.startswith(package + ".")):
            continue
        seen.add(name)
        parts = name.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # parent packages
        path = module_file(name, root)
        if path is None:
            if name == module:
                raise LookupError(f"no module {name} under {root}")
            continue  # `from pkg import attr`: attr is no submodule
        tree = ast.parse(path.read_text(), filename=str(path))
        is_package = path.name == "__init__.py"
        if not is_package or has_code(tree):
            files.add(path.relative_to(root).as_posix())
        todo.extend(_imported_modules(tree, name, is_package))
    return files


def _stage_bodies() -> dict[str, dict]:
    """dvc.yaml stages by name; a foreach stage contributes its `do:` block."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    return {name: stage.get("do", stage) for name, stage in stages.items()}


def stage_module(cmd: str | list[str]) -> str | None:
    """The `-m pipeline...` module a stage command runs, if any (behind `-m pipeline.launch
    [--nnodes N] NPROC`)."""
    text = " ".join(cmd) if isinstance(cmd, list) else cmd
    match = STAGE_MODULE.search(text)
    if match and match.group(1) == LAUNCHER:
        return next(w for w in text[match.end() :].split() if w.startswith(PACKAGE + "."))
    return match.group(1) if match else None


def stage_closure(cmd: str | list[str]) -> set[str]:
    """The files a stage command executes inside the package: its module's import closure, and
    the launcher's when it goes through it."""
    text = " ".join(cmd) if isinstance(cmd, list) else cmd
    files = import_closure(stage_module(cmd), ROOT)
    return files | (import_closure(LAUNCHER, ROOT) if f"-m {LAUNCHER} " in text else set())


def _dep_path(dep: str | dict) -> str:
    return (next(iter(dep)) if isinstance(dep, dict) else dep).rstrip("/")


def _covers(dep: str, file: str) -> bool:
    return file == dep or file.startswith(dep + "/")


def code_dep_problems(deps: list[str], closure: set[str], package: str = PACKAGE) -> list[str]:
    """What is wrong with a stage's code deps against its import closure (empty: fine).

    Deps outside `package/` (data, models, `${...}` interpolations) are not judged. A folder
    dep covers the files under it and is fine while it covers a closure file.
    """
    code = [dep for dep in map(_dep_path, deps) if dep == package or dep.startswith(package + "/")]
    problems = []
    missing = sorted(f for f in closure if not any(_covers(dep, f) for dep in code))
    if missing:
        problems.append(f"deps miss imported files {missing}")
    unused = [dep for dep in code if not any(_covers(dep, f) for f in closure)]
    if unused:
        problems.append(f"deps list code outside the import closure {unused}")
    return problems


STAGES = _stage_bodies()


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_deps_cover_import_closure(name):
    stage = STAGES[name]
    module = stage_module(stage["cmd"])
    assert module and module.startswith(PACKAGE + "."), (
        f"stage {name}: no `-m {PACKAGE}...` module in cmd {stage['cmd']!r}"
    )
    problems = code_dep_problems(stage.get("deps", []), stage_closure(stage["cmd"]))
    assert not problems, f"stage {name} ({module}): " + "; ".join(problems)


def test_every_stage_module_is_checked():
    """Each stage module exists, so no stage slips through the parametrized check."""
    for name, stage in STAGES.items():
        module = stage_module(stage["cmd"])
        assert module and module_file(module, ROOT), f"stage {name}: no module file for {module}"


TRAINING = {
    "pipeline/gen/diffusion_training.py",
    "pipeline/gen/generator_training.py",
    "pipeline/gen/sr_training.py",
}


@pytest.mark.parametrize(
    "module",
    ["pipeline.stages.generate", "pipeline.stages.select_gen", "pipeline.stages.coherence",
     "pipeline.study.timing"],
)  # fmt: skip
def test_what_uses_trained_networks_imports_no_training_code(module):
    """Sampling goes through the front doors (generator.py, super_resolver.py), so an edit to a
    training loop re-runs the trainers and never generation."""
    assert not import_closure(module, ROOT) & TRAINING


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def fake_package(tmp_path) -> Path:
    """fake/: main imports a (absolute), a imports b (relative) and sub.c; d is unrelated."""
    files = {
        "fake/__init__.py": '"""Only a docstring."""\n',
        "fake/main.py": "import os\n\nimport fake.a\nfrom fake import helpers\n",
        "fake/helpers.py": "from fake.sub.c import VALUE\n",
        "fake/a.py": "from . import b\nfrom .b import thing\n\n\ndef f():\n    import json\n",
        "fake/b.py": "thing = 1\n",
        "fake/sub/__init__.py": '"""Docstring."""\n\nfrom fake.sub import c\n',
        "fake/sub/c.py": "VALUE = 2\n",
        "fake/d.py": "import fake.b\n",
        "fake/stages/__init__.py": "",
        "fake/stages/run.py": "from fake.nested import deep\n",
        "fake/nested/__init__.py": '"""Docstring."""\n',
        "fake/nested/deep.py": "from ..b import thing\n",
    }
    for rel, text in files.items():
        _write(tmp_path, rel, text)
    return tmp_path


def test_closure_holds_every_module_reached_by_imports_and_no_other(fake_package):
    closure = import_closure("fake.main", fake_package, package="fake")
    assert closure == {
        "fake/main.py",
        "fake/a.py",
        "fake/b.py",
        "fake/helpers.py",
        "fake/sub/__init__.py",  # holds code besides its docstring
        "fake/sub/c.py",
    }
    assert "fake/d.py" not in closure  # imports b, but nothing imports d
    assert "fake/__init__.py" not in closure  # docstring only


def test_closure_resolves_relative_imports_from_nested_packages(fake_package):
    closure = import_closure("fake.stages.run", fake_package, package="fake")
    assert closure == {"fake/stages/run.py", "fake/nested/deep.py", "fake/b.py"}


def test_closure_of_missing_module_fails(fake_package):
    with pytest.raises(LookupError):
        import_closure("fake.nope", fake_package, package="fake")


def test_dep_problems_name_missing_and_unused_code():
    closure = {"fake/main.py", "fake/a.py", "fake/sub/c.py"}
    deps = ["data/x", "${item}", "fake/main.py", "fake/sub", "fake/d.py"]
    problems = code_dep_problems(deps, closure, package="fake")
    assert problems == [
        "deps miss imported files ['fake/a.py']",
        "deps list code outside the import closure ['fake/d.py']",
    ]
    assert code_dep_problems(["fake/main.py", "fake/a.py", "fake/sub/"], closure, "fake") == []


def test_the_committed_lock_records_the_code_as_it_is():
    """dvc.lock's hash of every code file a stage depends on is the file's: a code change
    committed without re-recording the lock (`dvc commit`, or the run that follows it) leaves
    `dvc status` listing modified deps in a fresh clone."""
    lock = yaml.safe_load((ROOT / "dvc.lock").read_text())["stages"]
    stale = sorted(
        {
            dep["path"]
            for stage in lock.values()
            for dep in stage.get("deps", [])
            if dep["path"].endswith(".py")
            and (
                not (ROOT / dep["path"]).is_file()
                or hashlib.md5((ROOT / dep["path"]).read_bytes()).hexdigest() != dep["md5"]
            )
        }
    )
    assert not stale, f"dvc.lock records other (or removed) {stale}: re-record it with dvc commit"
