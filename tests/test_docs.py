"""The documentation points at things that exist: every relative link of README.md and docs/*.md
resolves, and every test a page names (`tests/x.py::name`) is a test of that file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
TEST_REF = re.compile(r"(tests/test_\w+\.py)((?:::\w+)?)")
CONTINUED = re.compile(r"`::(\w+)`")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(page: Path):
    text = page.read_text()
    broken = [
        target
        for target in LINK.findall(text)
        if not target.startswith(("http://", "https://", "mailto:"))
        and not (page.parent / target).exists()
    ]
    assert not broken, f"{page.relative_to(ROOT)} links to missing files: {broken}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_named_test_exists(page: Path):
    missing = []
    for line in page.read_text().splitlines():
        last_file = None
        for file, name in TEST_REF.findall(line):
            last_file = ROOT / file
            if not last_file.is_file():
                missing.append(file)
            elif name and f"def {name[2:]}(" not in last_file.read_text():
                missing.append(file + name)
        if last_file is not None and last_file.is_file():
            source = last_file.read_text()
            missing += [
                f"{last_file.name}::{n}"
                for n in CONTINUED.findall(line)
                if f"def {n}(" not in source
            ]
    assert not missing, f"{page.relative_to(ROOT)} names tests that do not exist: {missing}"
