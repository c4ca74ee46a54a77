"""Reading tables: CSV dialects and the files a user may hand us by mistake."""

from __future__ import annotations

import pandas as pd
import pytest

from lossbridge.data import load_table
from lossbridge.datasets import BUNDLED, bundled_path
from lossbridge.errors import InputError

from .conftest import write_csv


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_every_bundled_dataset_loads_by_name(name):
    table = load_table(name)
    assert table.source == f"{name} (bundled)"
    assert len(table.frame) == len(pd.read_csv(bundled_path(name)))


def test_bundled_row_counts_match_their_sources():
    # Row counts from data/README.md and the original publications.
    expected = {"engel": 235, "stackloss": 21, "longley": 16, "earnings": 1192, "mesquite": 46}
    assert {name: len(load_table(name).frame) for name in expected} == expected


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("y,x\n1,2\n3,4\n5,7\n", "utf-8"),
        ("y;x\n1;2\n3;4\n5;7\n", "utf-8"),
        ("y\tx\n1\t2\n3\t4\n5\t7\n", "utf-8"),
        ("\ufeffy,x\r\n1,2\r\n3,4\r\n5,7\r\n", "utf-8"),  # BOM and CRLF (Excel exports)
    ],
    ids=["comma", "semicolon", "tab", "bom-crlf"],
)
def test_csv_dialects_read_the_same_table(tmp_path, text, encoding):
    frame = load_table(write_csv(tmp_path / "d.csv", text, encoding)).frame
    assert list(frame.columns) == ["y", "x"]
    assert frame["x"].tolist() == [2, 4, 7]


def test_dataframe_is_copied_not_mutated(simple_frame):
    table = load_table(simple_frame)
    table.frame.loc[0, "y"] = 1e9
    assert simple_frame.loc[0, "y"] != 1e9


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        ("", "is empty"),
        ("   \n\n", "is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        ("y,x,y\n1,2,3\n", "duplicate column names 'y'"),
        ("y,x\n1,2\n3,4,5,6\n", "not a well-formed CSV"),
    ],
    ids=["missing", "empty", "blank", "binary", "duplicate-columns", "ragged"],
)
def test_bad_files_raise_one_line_input_errors(tmp_path, content, message):
    path = tmp_path / "data.csv"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(InputError, match=message) as info:
        load_table(str(path))
    assert "\n" not in str(info.value)


def test_directory_is_refused(tmp_path):
    with pytest.raises(InputError, match="is a directory"):
        load_table(str(tmp_path))


def test_duplicate_columns_in_a_dataframe_are_refused():
    frame = pd.DataFrame([[1, 2], [3, 4]], columns=["a", "a"])
    with pytest.raises(InputError, match="duplicate column names 'a'"):
        load_table(frame)


def test_wrong_type_of_data_is_refused():
    with pytest.raises(InputError, match="got list"):
        load_table([1, 2, 3])
