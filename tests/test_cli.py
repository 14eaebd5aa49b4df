"""The `artiflow` command, run as a real subprocess where the exit code and stderr matter."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from artiflow.catalog.migrate import HEAD
from artiflow.cli import main


def run_cli(*args, home):
    proc = subprocess.run(
        [sys.executable, "-m", "artiflow.cli", "--home", str(home), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc


def test_cli_round_trip(tmp_path, make_files, capsys):
    data = make_files({"train.csv": "a,b\n1,2\n", "img/1.png": b"\x89PNG"})
    home = tmp_path / "home"
    assert (
        main(
            [
                "--home",
                str(home),
                "log",
                str(data),
                "--name",
                "bike-dataset",
                "--alias",
                "production",
                "--tag",
                "raw",
                "--meta",
                "rows=1",
                "--meta",
                "source=web",
                "--description",
                "bikes",
            ]
        )
        == 0
    )
    assert "default/bike-dataset:v0" in capsys.readouterr().out
    assert main(["ls", "--home", str(home)]) == 0  # options accepted after the command too
    assert "default/bike-dataset  type=dataset  versions=1  latest=v0" in capsys.readouterr().out
    assert main(["--home", str(home), "ls", "bike-dataset"]) == 0
    assert "latest, production" in capsys.readouterr().out
    assert main(["--home", str(home), "show", "bike-dataset:production", "--json", "--files"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["metadata"] == {"rows": 1, "source": "web"} and shown["tags"] == ["raw"]
    assert sorted(f["path"] for f in shown["files"]) == ["img/1.png", "train.csv"]
    out = tmp_path / "out"
    assert main(["--home", str(home), "get", "bike-dataset:production", "-o", str(out)]) == 0
    assert (out / "train.csv").read_text() == "a,b\n1,2\n"
    assert main(["--home", str(home), "verify", "bike-dataset", str(out)]) == 0
    (data / "train.csv").write_text("changed")
    assert main(["--home", str(home), "log", str(data), "--name", "bike-dataset"]) == 0
    assert main(["--home", str(home), "alias", "bike-dataset:v1", "production"]) == 0
    assert "production -> default/bike-dataset:v1" in capsys.readouterr().out
    assert main(["--home", str(home), "lineage", "bike-dataset", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["nodes"][0]["ref"] == "default/bike-dataset:v1"
    assert main(["--home", str(home), "lineage", "bike-dataset", "--down", "--format", "dot"]) == 0
    assert capsys.readouterr().out.startswith("digraph")
    assert main(["--home", str(home), "delete", "bike-dataset:v0"]) == 0
    assert main(["--home", str(home), "gc", "--grace", "0"]) == 0
    assert "removed 1 blobs" in capsys.readouterr().out
    assert main(["--home", str(home), "db", "current"]) == 0
    assert capsys.readouterr().out.strip() == HEAD  # the newest migration


@pytest.mark.parametrize(
    "args,code,message",
    [
        (["get", "nope:latest"], 3, "does not exist"),  # not found: exit 3 (docs/cli.md)
        (["get", "bad ref"], 2, "invalid"),
        (["log", "/definitely/missing"], 2, "no such file"),
        (["log", ".", "--name", "x", "--alias", "latest"], 2, "managed by artiflow"),
        (["log", ".", "--name", "x", "--meta", "novalue"], 2, "key=value"),
        (["lineage", "x", "--depth", "-1"], 2, "invalid depth"),
    ],
)
def test_cli_bad_input_one_line_and_nonzero(tmp_path, args, code, message):
    (tmp_path / "f.txt").write_text("x")
    proc = subprocess.run(
        [sys.executable, "-m", "artiflow.cli", "--home", str(tmp_path / "h"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == code
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("artiflow: error:") and message in lines[0], (
        proc.stderr
    )


def test_cli_progress_bar_on_request(tmp_path, make_files):
    data = make_files({f"f{i}": "x" * 1000 for i in range(10)})
    proc = run_cli("--progress", "log", str(data), "--name", "many", home=tmp_path / "h")
    assert proc.returncode == 0, proc.stderr
    assert "logging many" in proc.stderr and "%" in proc.stderr
    proc = run_cli("--progress", "get", "many", "-o", str(tmp_path / "o"), home=tmp_path / "h")
    assert proc.returncode == 0 and "downloading default/many:v0" in proc.stderr


def test_console_script_installed():
    exe = __import__("shutil").which(
        "artiflow", path=str(__import__("pathlib").Path(sys.executable).parent)
    )
    assert exe, "the `artiflow` console script is not installed in the venv"
    proc = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "artiflow" in proc.stdout


@pytest.mark.parametrize(
    "name",
    ["artiflow.cli", "artiflow.cli._common", "artiflow.cli._suggest", "artiflow.cli.completion"],
)
def test_cli_docstring_examples(name, chdir_tmp):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0, result
