"""The parameters reference docs/params.md, rendered from the params dataclasses (each field's
attribute docstring is its meaning) and the values of the four profiles.

    python -m pipeline.params_doc            # (re)write docs/params.md
    python -m pipeline.params_doc --check    # exit 1 when docs/params.md is out of date

No pipeline stage imports this module.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import sys
import textwrap
import types
import typing
from pathlib import Path
from typing import Any, Literal

from pipeline.files import atomic_file
from pipeline.params import PARAMS_FILE, Params, load_params

DOC = Path("docs/params.md")
PROFILES = {
    "demo": PARAMS_FILE,
    "field": Path("profiles/field.yaml"),
    "paper": Path("profiles/paper.yaml"),
    "smoke": Path("profiles/smoke.yaml"),
}
COMMAND = "python -m pipeline.params_doc"
TOP = "Top level"

INTRO = f"""\
# Parameters reference

`params.yaml` holds the pipeline's parameters: one section per stage, plus `seed`. A stage
reads its own section (and only the few other keys its `params:` in `dvc.yaml` list), so DVC re-runs
exactly the stages a changed key reaches. Change a key for one experiment with
`dvc exp run -S section.key=value` (e.g. `dvc exp run -S gen.epochs=200`), or edit `params.yaml`;
`cp profiles/paper.yaml params.yaml` switches to another profile. Unknown keys, wrong types and
impossible values stop a stage with a message naming the key (write floats as `1.0e-3`: YAML reads
`1e-3` as a string). This page is generated from `pipeline/params.py` and the four profiles by
`{COMMAND}`: do not edit it by hand.

The columns demo, field, paper and smoke give each key's value in `params.yaml` (the demo profile),
`profiles/field.yaml`, `profiles/paper.yaml` and `profiles/smoke.yaml`; a type `a | b` takes one of
the values listed.
"""


@dataclasses.dataclass(frozen=True)
class Section:
    """One params.yaml section (`name` "" for the top-level keys) and its dataclass."""

    name: str
    cls: type
    meaning: str


def field_docs(cls: type) -> dict[str, str]:
    """A dataclass's attribute docstrings: field name -> the string literal on the line after it
    (a field its base classes document keeps their docstring unless the class gives its own)."""
    docs = {}
    for base in reversed([c for c in cls.__mro__ if dataclasses.is_dataclass(c)]):
        docs.update(_own_field_docs(base))
    return docs


def _own_field_docs(cls: type) -> dict[str, str]:
    (node,) = ast.parse(textwrap.dedent(inspect.getsource(cls))).body
    docs = {}
    for stmt, after in zip(node.body, node.body[1:], strict=False):
        if (
            isinstance(stmt, ast.AnnAssign)
            and isinstance(stmt.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[stmt.target.id] = inspect.cleandoc(after.value.value)
    return docs


def sections() -> list[Section]:
    """The top-level keys, then every section of params.yaml in the order of `Params`."""
    hints, docs = typing.get_type_hints(Params), field_docs(Params)
    out = [Section("", Params, "Keys outside any section.")]
    for f in dataclasses.fields(Params):
        if dataclasses.is_dataclass(hints[f.name]):
            out.append(Section(f.name, hints[f.name], docs.get(f.name, "")))
    return out


def keys(section: Section) -> list[str]:
    """The keys of a section (for the top level, those that are no section)."""
    hints = typing.get_type_hints(section.cls)
    return [
        f.name
        for f in dataclasses.fields(section.cls)
        if not dataclasses.is_dataclass(hints[f.name])
    ]


def type_name(tp: Any) -> str:
    """A params type as a reader writes it: `int`, `list[int]`, `a | b | c` for a Literal."""
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " | ".join(map(str, typing.get_args(tp)))
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(arg) for arg in typing.get_args(tp))
    if origin is list:
        return f"list[{', '.join(map(type_name, typing.get_args(tp)))}]"
    return getattr(tp, "__name__", str(tp))


def value_text(value: Any) -> str:
    """A value as YAML would show it: true/false, 1.0e-3 for small floats, [16, 32, 64]."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value and not 1e-2 <= abs(value) < 1e6:
        mantissa, exponent = f"{value:e}".split("e")
        mantissa = mantissa.rstrip("0")
        return f"{mantissa}{'0' if mantissa.endswith('.') else ''}e{int(exponent)}"
    if isinstance(value, list):
        return "[" + ", ".join(map(value_text, value)) + "]"
    return str(value)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def render(root: Path = Path(".")) -> str:
    """The markdown of docs/params.md for the profiles under `root`."""
    profiles = {name: load_params(root / path) for name, path in PROFILES.items()}
    parts = [INTRO, "## Sections\n", _row(["section", "what it sets"]), "|---|---|"]
    parts += [_row([f"[{s.name}](#{s.name})", s.meaning]) for s in sections() if s.name]
    for section in sections():
        title = section.name or TOP
        docs, hints = field_docs(section.cls), typing.get_type_hints(section.cls)
        about = section.meaning if not section.name else inspect.getdoc(section.cls) or ""
        parts += ["", f"## {title}", "", _one_line(about), ""]
        parts.append(_row(["key", "type", *PROFILES, "meaning"]))
        parts.append("|" + "---|" * (len(PROFILES) + 3))
        for key in keys(section):
            values = []
            for params in profiles.values():
                holder = getattr(params, section.name) if section.name else params
                values.append(f"`{value_text(getattr(holder, key))}`")
            dotted = f"{section.name}.{key}" if section.name else key
            cells = [f"`{dotted}`", f"`{type_name(hints[key])}`", *values]
            parts.append(_row([*cells, _one_line(docs.get(key, ""))]))
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=f"write {DOC}, the parameters reference")
    parser.add_argument("--check", action="store_true", help=f"exit 1 when {DOC} is out of date")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = DOC.read_text(encoding="utf-8") if DOC.is_file() else None
        if current != text:
            sys.exit(f"{DOC} is out of date: run `{COMMAND}`")
        return
    with atomic_file(DOC) as tmp:
        tmp.write_text(text, encoding="utf-8")
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
