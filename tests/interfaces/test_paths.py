"""Outputs go only where the user pointed, and only to regular files (issue 10, item 2).

Every refusal is checked before fitting: ``lossbridge.interfaces.pipeline.fit`` is replaced by a
function that fails the test if it is reached.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import lossbridge
from lossbridge.core.errors import InputError
from lossbridge.interfaces.cli import main

ROWS = "y,x\n" + "".join(f"{1 + 2 * i + (-1) ** i},{i}\n" for i in range(12))
ENV = {**os.environ, "PYTHONWARNINGS": "ignore"}
SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text(ROWS)
    return path


@pytest.fixture
def no_fit(monkeypatch):
    """Any fit reached means a check came too late."""

    def fit(*args, **kwargs):
        raise AssertionError("the fit started before the output check")

    # The CLI and TOML specs enter the pipeline here, with options already checked.
    monkeypatch.setattr("lossbridge.interfaces.pipeline.run_pipeline", fit)


def one_line_error(capsys, argv, message):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert code == 2, err
    assert out == "" and message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    return err


def spec_file(folder: Path, name_line: str, data: str = "d.csv") -> Path:
    path = folder / "s.toml"
    path.write_text(f'{name_line}\ndata = "{data}"\nformula = "y ~ x"\nsample = false\n'
                    'likelihoods = "normal"\nscales = "learned"\n')
    return path


BAD_NAMES = {
    "parent-escape": ('name = "../../victim/important"', "contains a path separator"),
    "absolute": ('name = "/tmp/victim/important"', "contains a path separator"),
    "backslash": ('name = "a\\\\b"', "contains a path separator"),
    "dot-dot": ('name = ".."', "starts with '.'"),
    "hidden": ('name = ".hidden"', "starts with '.'"),
    "nul": ('name = "a\\u0000b"', "contains a NUL or control character"),
    "newline": ('name = "a\\nb"', "contains a NUL or control character"),
    "empty": ('name = ""', "name is empty"),
    "too-long": (f'name = "{"a" * 251}"', "is 251 bytes long"),
    "too-long-utf8": (f'name = "{"é" * 126}"', "is 252 bytes long"),
    "not-a-string": ("name = 3", "name must be a string; got 3"),
}


@pytest.mark.parametrize("case", list(BAD_NAMES))
def test_unsafe_spec_names_are_refused_before_any_work(capsys, tmp_path, data, no_fit, monkeypatch, case):
    line, message = BAD_NAMES[case]
    monkeypatch.chdir(tmp_path)
    victim = tmp_path.parent / "victim"
    spec = spec_file(tmp_path, line)
    one_line_error(capsys, ["run", spec], message)
    assert not (tmp_path / "reports").exists() and not victim.exists()


def test_a_spec_name_of_250_bytes_is_a_valid_report_name(capsys, tmp_path, data, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = spec_file(tmp_path, f'name = "{"a" * 250}"')
    assert main(["run", str(spec), "--quiet"]) == 0, capsys.readouterr().err
    assert (tmp_path / "reports" / f"{'a' * 250}.html").is_file()


def test_stem_of_a_hidden_spec_file_is_refused(capsys, tmp_path, data, no_fit):
    spec = tmp_path / ".secret.toml"
    spec.write_text('data = "d.csv"\nformula = "y ~ x"\n')
    one_line_error(capsys, ["run", spec], "name '.secret' starts with '.'")


def test_a_file_called_reports_is_refused_before_fitting(capsys, tmp_path, data, no_fit, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "reports").write_text("not a folder")
    spec = spec_file(tmp_path, 'name = "mine"')
    one_line_error(capsys, ["run", spec], "'reports' is a file, not a folder")
    assert (tmp_path / "reports").read_text() == "not a folder"


def test_reports_folder_is_not_left_behind_by_a_failed_run(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d.csv").write_text(ROWS)
    spec = spec_file(tmp_path, 'name = "mine"').read_text().replace("y ~ x", "y ~ w")
    (tmp_path / "s.toml").write_text(spec)
    one_line_error(capsys, ["run", tmp_path / "s.toml"], "column 'w'")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv", "s.toml"]


@pytest.mark.parametrize("kind", ["fifo", "fifo-symlink", "dev-null", "socket"])
def test_out_refuses_non_regular_files_without_opening_them(capsys, tmp_path, data, no_fit, kind):
    if kind.startswith("fifo"):
        target = tmp_path / "pipe"
        os.mkfifo(target)  # opening it for writing would block the test: it must not be opened
        if kind == "fifo-symlink":
            (tmp_path / "link.html").symlink_to(target)
            target = tmp_path / "link.html"
        message, check = "is a FIFO (named pipe); lossbridge writes only regular files", stat.S_ISFIFO
    elif kind == "dev-null":
        target, message, check = Path("/dev/null"), "is a character device", stat.S_ISCHR
    else:
        import socket

        target = tmp_path / "sock"
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(target))
        message, check = "is a socket", stat.S_ISSOCK
    one_line_error(capsys, ["report", data, "--no-sample", "-f", "y ~ x", "--out", target], message)
    assert check(os.stat(target).st_mode)


@pytest.mark.parametrize("how", ["same-path", "symlink", "hard-link", "relative-spelling"])
def test_out_refuses_to_overwrite_the_input_data(capsys, tmp_path, data, no_fit, how, monkeypatch):
    monkeypatch.chdir(tmp_path)
    target = {"same-path": data, "relative-spelling": Path("sub/../d.csv")}.get(how)
    (tmp_path / "sub").mkdir()
    if how == "symlink":
        target = tmp_path / "link.html"
        target.symlink_to(data)
    elif how == "hard-link":
        target = tmp_path / "hard.html"
        os.link(data, target)
    one_line_error(capsys, ["report", data, "--no-sample", "-f", "y ~ x", "--out", target],
                   f"is the input file {str(data)!r} of this run")
    assert data.read_text() == ROWS


def test_run_out_refuses_the_spec_and_its_data(capsys, tmp_path, data, no_fit):
    spec = spec_file(tmp_path, 'name = "mine"')
    text = spec.read_text()
    one_line_error(capsys, ["run", spec, "--out", spec], "is the input file")
    one_line_error(capsys, ["run", spec, "--out", data], "is the input file")
    assert spec.read_text() == text and data.read_text() == ROWS


@pytest.mark.parametrize(
    ("option", "message"),
    [("--out", "report path (--out): the name 'aaaa"), ("--save", "output folder path (--save): the name 'aaaa")],
)
def test_over_long_output_names_are_refused_before_fitting(capsys, tmp_path, data, no_fit, option, message):
    name = tmp_path / ("a" * 256)
    command = "report" if option == "--out" else "fit"
    argv = [command, data, "-f", "y ~ x", option, name]
    err = one_line_error(capsys, argv, message)
    assert "is 256 bytes long; this file system allows at most 255" in err


def test_over_long_path_is_refused(capsys, tmp_path, data, no_fit):
    deep = Path(*(["b" * 200] * 25), "r.html")  # 5000+ bytes, more than PATH_MAX
    one_line_error(capsys, ["report", data, "--no-sample", "-f", "y ~ x", "--out", deep],
                   "is too long a path")


def test_nul_in_output_path_is_an_input_error(tmp_path):
    from lossbridge.core.outputs import check_output

    with pytest.raises(InputError, match="contains a NUL byte"):
        check_output(str(tmp_path / "a\x00b.html"), what="report")


def test_save_refuses_existing_entries_and_a_clash_with_out(capsys, tmp_path, data, no_fit):
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    base = ["fit", data, "-f", "y ~ x", "--save"]
    one_line_error(capsys, [*base, tmp_path / "dangling"], "already exists")
    one_line_error(capsys, [*base, data], "already exists")
    one_line_error(capsys, ["report", data, "-f", "y ~ x", "--save", tmp_path / "x", "--out", tmp_path / "x"],
                   "--out and --save name the same path")
    one_line_error(capsys, ["report", data, "--no-sample", "-f", "y ~ x", "--out", tmp_path],
                   "is a directory")


def test_real_process_refuses_fifo_and_dev_null(tmp_path, data):
    """Through a real process: exit 2 at once, one line, the FIFO is never opened."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for target in (fifo, "/dev/null", data):
        done = subprocess.run([sys.executable, "-m", "lossbridge.interfaces.cli", "report", str(data), "-f", "y ~ x",
                               "--no-sample", "--out", str(target)], capture_output=True, text=True,
                              env={**ENV, "PYTHONPATH": SRC}, timeout=300)
        assert done.returncode == 2, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and done.stdout == ""
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert data.read_text() == ROWS


# ------------------------------------------------------------------ lossbridge.load containment
@pytest.fixture(scope="module")
def saved_folder(tmp_path_factory) -> Path:
    analysis = lossbridge.fit("stackloss", likelihoods="normal", scales="learned", draws=100, tune=100,
                              chains=2, cores=1, seed=5, progress=False)
    folder = tmp_path_factory.mktemp("saved") / "run"
    analysis.save(folder)
    return folder


@pytest.fixture
def copy(saved_folder, tmp_path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(saved_folder, target)
    return target


def edit_manifest(folder: Path, change) -> None:
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def test_load_round_trip_of_the_copy(copy):
    loaded = lossbridge.load(copy)
    assert loaded.models == ["normal-learned"]


@pytest.mark.parametrize("name", ["../../../../../../../../etc/passwd", "/etc/passwd", "sub/x.nc", "..", ""])
def test_load_refuses_names_that_are_not_plain_files_of_the_folder(copy, name):
    edit_manifest(copy, lambda m: m["models"].update({"normal-learned": name}))
    with pytest.raises(InputError, match="names plain files inside its folder"):
        lossbridge.load(copy)


def test_load_refuses_symlinks_that_leave_the_folder(copy, tmp_path):
    outside = tmp_path / "outside.nc"
    shutil.copy(copy / "normal-learned.nc", outside)
    (copy / "normal-learned.nc").unlink()
    (copy / "normal-learned.nc").symlink_to(outside)
    with pytest.raises(InputError, match="points outside the folder"):
        lossbridge.load(copy)
    (copy / "loo.npz").rename(tmp_path / "loo.npz")
    (copy / "loo.npz").symlink_to("/etc/passwd")
    (copy / "normal-learned.nc").unlink()
    shutil.copy(outside, copy / "normal-learned.nc")
    with pytest.raises(InputError, match="points outside the folder"):
        lossbridge.load(copy)


def test_load_follows_symlinks_that_stay_inside(copy):
    (copy / "normal-learned.nc").rename(copy / "real.nc")
    (copy / "normal-learned.nc").symlink_to("real.nc")
    assert lossbridge.load(copy).models == ["normal-learned"]


def test_load_refuses_a_manifest_symlinked_from_elsewhere(copy, tmp_path):
    (copy / "manifest.json").rename(tmp_path / "manifest.json")
    (copy / "manifest.json").symlink_to(tmp_path / "manifest.json")
    with pytest.raises(InputError, match="points outside the folder"):
        lossbridge.load(copy)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m.pop("analysis"), "no 'analysis' document"),
        (lambda m: m.pop("models"), "'models' must map model names to file names"),
        (lambda m: m.update(models=["normal-learned.nc"]), "'models' must map model names"),
        (lambda m: m["analysis"].pop("fits"), "missing entry 'fits'"),
        (lambda m: m["analysis"]["options"].pop("draws"), "missing entry 'draws'"),
        (lambda m: m["analysis"]["fits"][0].pop("loo"), "missing entry 'loo'"),
        (lambda m: m["analysis"]["options"].update(chains="many"), "ValueError"),
        (lambda m: m.update(format=99), "unknown format 99"),
        (lambda m: m.pop("loo_file"), "names leave-one-out values None"),
    ],
)
def test_corrupt_or_foreign_manifests_are_input_errors(copy, change, message):
    edit_manifest(copy, change)
    with pytest.raises(InputError, match=message):
        lossbridge.load(copy)


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"[1, 2]", "a JSON list, not an object"), (b"{nope", "not valid JSON"), (b"\xff\xfe", "not valid JSON")],
)
def test_manifest_that_is_not_an_object(copy, content, message):
    (copy / "manifest.json").write_bytes(content)
    with pytest.raises(InputError, match=message):
        lossbridge.load(copy)


def test_corrupt_data_files_are_input_errors(copy):
    (copy / "loo.npz").write_bytes(b"not a zip file")
    with pytest.raises(InputError, match="are corrupt"):
        lossbridge.load(copy)


def test_corrupt_netcdf_is_an_input_error(copy):
    (copy / "normal-learned.nc").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 100)
    with pytest.raises(InputError, match="is not a readable netCDF file"):
        lossbridge.load(copy)


def test_load_of_something_else(tmp_path, data):
    with pytest.raises(InputError, match="is not a folder"):
        lossbridge.load(data)
    with pytest.raises(InputError, match="is not a lossbridge save folder"):
        lossbridge.load(tmp_path)
