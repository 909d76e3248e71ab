"""Reading the raw input layout: its folders, and the test domains of domains.csv."""

from __future__ import annotations

import pytest

from pipeline.data.layout import RawLayout
from pipeline.errors import DataError
from tests.conftest import pair_folder


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(DataError, match="data.root folder not found: .*nowhere"):
        RawLayout(tmp_path / "nowhere")
    with pytest.raises(DataError, match="annotated folder not found"):
        RawLayout(tmp_path).annotated()


def test_domains_csv_must_name_existing_pairs(tmp_path):
    split = pair_folder(tmp_path / "gwhd" / "test")
    (split / "domains.csv").write_text("file,domain\na.jpg,utokyo_1\n")
    _, domains = RawLayout(tmp_path).gwhd("test")
    assert domains == {"a": "utokyo_1", "b": "all"}
    (split / "domains.csv").write_text("file,domain\nz.jpg,utokyo_1\n")
    with pytest.raises(DataError, match=r"domains\.csv names z\.jpg"):
        RawLayout(tmp_path).gwhd("test")
