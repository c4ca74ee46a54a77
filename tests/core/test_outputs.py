"""Output safety: folder checks before work, atomic writes that leave nothing half-done."""

import pytest

from lossbridge.core.errors import InputError
from lossbridge.core.outputs import check_parent_folder, write_text_atomically


def test_atomic_write_replaces_the_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "out.html"
    target.write_text("old")
    write_text_atomically(target, "new", what="report")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.html"]


def test_interrupted_write_keeps_the_old_file(tmp_path, interrupted_rename):
    target = tmp_path / "out.html"
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt):
        write_text_atomically(target, "new", what="report")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.html"]


def test_failed_rename_is_one_input_error(tmp_path):
    target = tmp_path / "a-directory"
    target.mkdir()
    with pytest.raises(InputError, match="cannot write report"):
        write_text_atomically(target, "new", what="report")
    assert [p.name for p in tmp_path.iterdir()] == ["a-directory"]


def test_parent_folder_checks(tmp_path):
    assert check_parent_folder(tmp_path / "r.html", "write report") == tmp_path
    with pytest.raises(InputError, match="does not exist"):
        check_parent_folder(tmp_path / "missing" / "r.html", "write report")


def test_parent_folder_must_be_writable(tmp_path, monkeypatch):
    # os.access is patched rather than chmod-ing a folder: CI runs as root, who may write anywhere.
    monkeypatch.setattr("lossbridge.core.outputs.os.access", lambda path, mode: False)
    with pytest.raises(InputError, match="is not writable"):
        check_parent_folder(tmp_path / "r.html", "write report")
