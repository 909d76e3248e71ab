"""docs/params.md: every params field has a one-line meaning, the committed page is what
`python -m pipeline.params_doc` renders, and it shows every key of every profile."""

from __future__ import annotations

import shutil
import typing

import pytest
import yaml

from pipeline import params_doc
from tests.conftest import ROOT

FIX = "run `python -m pipeline.params_doc` and commit docs/params.md"


def _profile_keys(tree: dict, prefix: str = "") -> set[str]:
    """Dotted keys of the leaves of a profile (a section's keys, not the section itself)."""
    out = set()
    for key, value in tree.items():
        if isinstance(value, dict):
            out |= _profile_keys(value, f"{prefix}{key}.")
        else:
            out.add(prefix + key)
    return out


def test_every_params_field_has_a_one_line_meaning():
    missing, long = [], []
    sections = params_doc.sections()
    for section in sections:
        docs = params_doc.field_docs(section.cls)
        for key in params_doc.keys(section):
            dotted = f"{section.name}.{key}" if section.name else key
            doc = docs.get(key, "")
            if not doc.strip() or "\n" in doc:
                missing.append(dotted)
            elif len(doc) > 100:
                long.append(dotted)
    sections_without = [s.name for s in sections if s.name and not s.meaning.strip()]
    assert not missing, f"no one-line meaning (attribute docstring) in params.py: {missing}"
    assert not long, f"meanings over 100 characters in pipeline/params.py: {long}"
    assert not sections_without, f"no meaning for the Params fields of sections {sections_without}"


def test_committed_page_is_current():
    committed = (ROOT / params_doc.DOC).read_text(encoding="utf-8")
    assert committed == params_doc.render(ROOT), f"docs/params.md is out of date: {FIX}"


@pytest.mark.parametrize("profile", sorted(params_doc.PROFILES))
def test_page_shows_every_key_of_every_profile(profile):
    page = (ROOT / params_doc.DOC).read_text(encoding="utf-8")
    tree = yaml.safe_load((ROOT / params_doc.PROFILES[profile]).read_text())
    absent = sorted(key for key in _profile_keys(tree) if f"| `{key}` |" not in page)
    assert not absent, f"keys of {profile} missing from docs/params.md: {absent}; {FIX}"


def test_values_and_types_read_as_in_yaml():
    assert params_doc.value_text(1.0e-3) == "1.0e-3"
    assert params_doc.value_text(2.1e-4) == "2.1e-4"
    assert params_doc.value_text(0.01) == "0.01"
    assert params_doc.value_text(0.0) == "0.0"
    assert params_doc.value_text(True) == "true"
    assert params_doc.value_text([16, 32, 64]) == "[16, 32, 64]"
    assert params_doc.type_name(list[int]) == "list[int]"
    hints = {s.name: s.cls for s in params_doc.sections()}
    gen = typing.get_type_hints(hints["gen"])
    assert params_doc.type_name(gen["curriculum"]) == "bool | auto"
    assert params_doc.type_name(gen["arch"]) == "concat | shared_encoder | two_encoder"


def test_check_flag_names_the_stale_page(tmp_path, monkeypatch, capsys):
    """main writes the page (in a copy of the profiles) and --check passes; a stale page exits 1
    with one line naming docs/params.md."""
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    shutil.copytree(ROOT / "profiles", tmp_path / "profiles")
    monkeypatch.chdir(tmp_path)
    params_doc.main([])
    params_doc.main(["--check"])
    page = tmp_path / "docs/params.md"
    page.write_text(page.read_text(encoding="utf-8") + "edited by hand\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exit_:
        params_doc.main(["--check"])
    message = exit_.value.code  # a string: Python prints it to stderr and exits with status 1
    assert isinstance(message, str)
    assert "docs/params.md" in message and "python -m pipeline.params_doc" in message
    assert "\n" not in message
