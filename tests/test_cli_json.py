"""The scriptable CLI: every command's ``--json`` (one object, the keys docs/cli.md documents),
the exit codes, did-you-mean suggestions, a closed pipe, help examples, shell completion and
install hints. Run against a real embedded registry; subprocesses where stdout/stderr/exit
status are the contract."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from artiflow import Artifact, Registry
from artiflow.cli import build_parser, main

DOCS = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def documented_keys() -> dict[str, set[str]]:
    """The ``--json`` table of docs/cli.md: ``| `artiflow ls NAME` | `collection`, ... |``."""
    table: dict[str, set[str]] = {}
    section = DOCS.read_text().split("## JSON output", 1)[1].split("\n## ", 1)[0]
    for line in section.splitlines():
        m = re.match(r"\|\s*`artiflow ([^`]+)`\s*\|(.*)\|\s*$", line)
        if m:
            table[m.group(1).strip()] = set(re.findall(r"`([a-z_]+)`", m.group(2)))
    return table


def _log(reg: Registry, name: str, text: str, **kw: Any):
    art = Artifact(name, type=kw.pop("type", "dataset"))
    with art.new_file("data.txt") as f:
        f.write(text)
    return reg.log(art, **kw)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """bike-dataset v0, v1 (production on v0), and churn-model:v0 made from bike-dataset:v0."""
    home = tmp_path / "home"
    with Registry(home=home) as reg:
        _log(reg, "bike-dataset", "one", aliases=["production"])
        _log(reg, "bike-dataset", "two")
        with reg.run("train", pipeline="retrain") as run:
            run.use("bike-dataset:production")
            model = Artifact("churn-model", type="model")
            with model.new_file("model.json") as f:
                f.write("{}")
            run.log(model, aliases=["candidate"])
    return home


def cli_json(capsys: pytest.CaptureFixture[str], home: Path, *args: str) -> tuple[int, Any]:
    code = main(["--home", str(home), *args, "--json"])
    out = capsys.readouterr().out
    assert out.count("\n") == 1, f"--json must print exactly one line/object: {out!r}"
    return code, json.loads(out)


def run_cli(home: Path, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "artiflow.cli", "--home", str(home), *args],
        capture_output=True,
        text=True,
        timeout=120,
        **kw,
    )


def test_every_command_is_documented_with_its_json_keys() -> None:
    table = documented_keys()
    sub = next(a for a in build_parser()._actions if hasattr(a, "choices") and a.choices)
    commands = set(sub.choices)
    documented = {key.split()[0] for key in table}
    assert commands <= documented, (
        f"commands without a --json schema in docs/cli.md: {commands - documented}"
    )


def test_json_of_every_command_has_the_documented_keys(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = documented_keys()
    data = tmp_path / "new"
    data.mkdir()
    (data / "x.txt").write_text("x")
    out = tmp_path / "out"
    calls: dict[str, list[str]] = {
        "log": ["log", str(data), "--name", "notes", "--alias", "staging"],
        "get": ["get", "bike-dataset:production", "-o", str(out)],
        "ls": ["ls"],
        "ls NAME": ["ls", "bike-dataset"],
        "show": ["show", "bike-dataset:production"],
        "alias": ["alias", "bike-dataset:v1", "staging"],
        "edit": ["edit", "bike-dataset:v1", "--meta", "rows=2", "--tag", "checked"],
        "verify": ["verify", "bike-dataset:production", str(out)],
        "lineage": ["lineage", "churn-model:candidate", "--both"],
        "delete": ["delete", "notes:v0", "--delete-aliases"],
        "gc": ["gc", "--grace", "0"],
        "fsck": ["fsck"],
        "db": ["db", "current"],
        "completion": ["completion", "bash"],
    }
    seen: dict[str, Any] = {}
    for key, args in calls.items():
        code, obj = cli_json(capsys, home, *args)
        assert code == 0, (key, obj)
        assert isinstance(obj, dict)
        # the documented keys are a promise (new keys may appear, none disappear: docs/cli.md)
        missing = docs[key] - set(obj)
        assert not missing, f"artiflow {key} --json lacks documented keys {sorted(missing)}"
        seen[key] = obj
    assert seen["log"]["ref"] == "default/notes:v0" and "staging" in seen["log"]["aliases"]
    assert seen["get"]["path"] == str(out) and (out / "data.txt").read_text() == "one"
    assert [c["name"] for c in seen["ls"]["collections"]] == [
        "bike-dataset",
        "churn-model",
        "notes",
    ]
    assert [v["version"] for v in seen["ls NAME"]["versions"]] == ["v0", "v1"]
    assert seen["show"]["logged_by"] is None and seen["show"]["used_by"][0]["name"] == "train"
    assert seen["alias"] == {
        "alias": "staging",
        "ref": "default/bike-dataset:v1",
        "removed": False,
        "revision": seen["alias"]["revision"],
    }
    assert seen["edit"]["metadata"] == {"rows": 2} and seen["edit"]["tags"] == ["checked"]
    assert seen["verify"]["ok"] is True and seen["verify"]["problems"] == []
    kinds = {n["kind"] for n in seen["lineage"]["nodes"]}
    assert kinds == {"version", "run"} and seen["lineage"]["edges"]
    assert seen["delete"] == {"ref": "default/notes:v0", "deleted": True}
    assert seen["gc"]["blobs_deleted"] == 1 and seen["gc"]["dry_run"] is False
    assert seen["fsck"]["ok"] is True
    assert seen["db"]["revision"] == seen["db"]["head"]
    assert "complete -o default -F _artiflow artiflow" in seen["completion"]["script"]
    # --json is accepted before the command too, and lineage --format openlineage has a form
    assert main(["--json", "--home", str(home), "ls", "churn-model"]) == 0
    assert docs["ls NAME"] <= set(json.loads(capsys.readouterr().out))
    code, obj = cli_json(capsys, home, "lineage", "churn-model", "--format", "openlineage")
    assert code == 0 and docs["lineage --format openlineage"] <= set(obj)
    assert obj["events"][0]["eventType"] == "COMPLETE"


def test_ui_json_reports_where_it_listens(home: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "artiflow.cli",
            "--home",
            str(home),
            "ui",
            "--port",
            str(port),
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        obj = json.loads(line)
        assert documented_keys()["ui"] <= set(obj)
        assert obj == {"url": f"http://127.0.0.1:{port}/", "allow_writes": False}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.parametrize(
    "args,code,kind",
    [
        (["show", "bike-dataset:v9"], 3, "not_found"),
        (["show", "nope"], 3, "not_found"),
        (["get", "bad ref"], 2, "bad_input"),
        (["log", "/definitely/missing", "--name", "x"], 2, "bad_input"),
        (["alias", "bike-dataset:v1", "production", "--expect", "v1"], 4, "conflict"),
        (["edit", "bike-dataset:v0", "--tag", "x", "--revision", "99"], 4, "conflict"),
        (["delete", "bike-dataset:v0"], 4, "conflict"),  # it holds production
    ],
)
def test_exit_codes_and_the_json_error_object(
    home: Path, args: list[str], code: int, kind: str
) -> None:
    proc = run_cli(home, *args, "--json")
    assert proc.returncode == code, proc.stderr
    err = json.loads(proc.stdout)["error"]
    assert (err["code"], err["kind"]) == (code, kind)
    assert err["message"] and err["message"] in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_usage_error_exits_2(home: Path) -> None:
    proc = run_cli(home, "lineage")  # missing REF: argparse's usage error
    assert proc.returncode == 2 and "usage:" in proc.stderr


def test_verify_mismatch_exits_1_and_lists_the_problems(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "copy"
    assert main(["--home", str(home), "get", "bike-dataset:production", "-o", str(out)]) == 0
    (out / "data.txt").write_text("changed")
    (out / "extra.txt").write_text("new")
    capsys.readouterr()
    code, obj = cli_json(capsys, home, "verify", "bike-dataset:production", str(out))
    assert code == 1 and obj["ok"] is False
    assert {(p["kind"], p["path"]) for p in obj["problems"]} == {
        ("changed", "data.txt"),
        ("extra", "extra.txt"),
    }
    proc = run_cli(home, "verify", "bike-dataset:production", str(out))
    assert proc.returncode == 1 and "changed  data.txt" in proc.stdout
    assert proc.stderr.startswith("artiflow: mismatch:")


@pytest.mark.parametrize(
    "ref,suggestion",
    [
        ("bike-datset", "did you mean bike-dataset?"),
        ("bike-datset:production", "did you mean bike-dataset:production?"),
        ("bike-dataset:prodution", "did you mean bike-dataset:production?"),
        ("default/churn-modle:candidat", "did you mean default/churn-model:candidat?"),
        ("churn-model:candidat", "did you mean churn-model:candidate?"),
    ],
)
def test_not_found_suggests_close_names(home: Path, ref: str, suggestion: str) -> None:
    proc = run_cli(home, "show", ref)
    assert proc.returncode == 3
    assert proc.stderr.strip().endswith(suggestion), proc.stderr
    proc = run_cli(home, "show", ref, "--json")
    assert json.loads(proc.stdout)["error"]["hint"] == suggestion


def test_no_suggestion_when_nothing_is_close(home: Path) -> None:
    proc = run_cli(home, "show", "zebra:v0")
    assert proc.returncode == 3 and "did you mean" not in proc.stderr
    proc = run_cli(home, "ls", "bike-datset")  # `ls NAME` suggests too
    assert proc.returncode == 3 and proc.stderr.strip().endswith("did you mean bike-dataset?")


def test_a_closed_pipe_ends_quietly(home: Path) -> None:
    cmd = [sys.executable, "-m", "artiflow.cli", "--home", str(home), "lineage", "churn-model"]
    # `| head -1`: the first line arrives, and no traceback however the race ends
    head = subprocess.run(
        " ".join(cmd) + " --both | head -1", shell=True, capture_output=True, text=True
    )
    assert head.stdout == "graph LR\n" and "Traceback" not in head.stderr, head.stderr
    # a reader that is gone before the first write: always a broken pipe
    reader = subprocess.Popen(["true"], stdin=subprocess.PIPE)
    reader.wait()
    writer = subprocess.Popen(cmd, stdout=reader.stdin, stderr=subprocess.PIPE, text=True)
    assert reader.stdin is not None
    reader.stdin.close()
    _, err = writer.communicate(timeout=120)
    assert writer.returncode == 141, err
    assert err == "", err  # no traceback, no "Exception ignored ... BrokenPipeError"


def test_every_subcommand_help_has_examples() -> None:
    sub = next(a for a in build_parser()._actions if hasattr(a, "choices") and a.choices)
    for name, parser in sub.choices.items():
        text = parser.format_help()
        assert "examples:\n  $ " in text and f"artiflow {name}" in text, name
        assert "--json" in text, name
    assert "exit codes:" in build_parser().format_help()


def _complete(script: str, *words: str) -> list[str]:
    bash = shutil.which("bash")
    assert bash
    prog = (
        f"{script}\nCOMP_WORDS=({' '.join(repr(w) for w in words)}); "
        f"COMP_CWORD={len(words) - 1}; _artiflow; printf '%s\\n' \"${{COMPREPLY[@]}}\""
    )
    done = subprocess.run([bash, "-c", prog], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_completion_scripts(home: Path, shell: str) -> None:
    proc = run_cli(home, "completion", shell)
    assert proc.returncode == 0
    script = proc.stdout
    if shell == "zsh":
        assert script.startswith("#compdef artiflow") and "bashcompinit" in script
        zsh = shutil.which("zsh")
        if zsh:
            check = subprocess.run([zsh, "-n", "-c", script], capture_output=True, text=True)
            assert check.returncode == 0, check.stderr
        return
    assert _complete(script, "artiflow", "li") == ["lineage"]
    assert _complete(script, "artiflow", "--home", "h", "ve") == ["verify"]
    assert _complete(script, "artiflow", "lineage", "x", "--format", "") == [
        "mermaid",
        "dot",
        "json",
        "openlineage",
    ]
    assert _complete(script, "artiflow", "db", "") == ["upgrade", "current"]
    assert "--delete-aliases" in _complete(script, "artiflow", "delete", "--d")
    assert "--json" in _complete(script, "artiflow", "gc", "--")


def test_ui_without_fastapi_names_the_extra(home: Path) -> None:
    code = (
        "import sys; sys.modules['fastapi'] = None\n"  # as if the 'ui' extra were not installed
        "from artiflow.cli import main\n"
        f"sys.exit(main(['--home', {str(home)!r}, 'ui', '--json']))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 5, proc.stderr
    assert "pip install 'artiflow[ui]'" in proc.stderr and "Traceback" not in proc.stderr
    assert json.loads(proc.stdout)["error"]["kind"] == "missing_extra"


def test_operators_without_airflow_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['airflow'] = None\n"  # as if the 'airflow' extra were missing
        "import artiflow.operators\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "pip install 'artiflow[airflow]'" in proc.stderr, proc.stderr[-2000:]
    assert (
        proc.stderr.strip().splitlines()[-1].startswith("ModuleNotFoundError: artiflow.operators")
    )


def test_gc_progress_bar(home: Path) -> None:
    with Registry(home=home) as reg:
        for i in range(3):
            _log(reg, "scratch", f"content {i}").delete()
    env = {**os.environ, "COLUMNS": "100"}
    proc = run_cli(home, "--progress", "gc", "--grace", "0", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "removed 3 blobs" in proc.stdout
    assert "gc: scanning" in proc.stderr, proc.stderr  # before the number of candidates is known
    assert re.search(r"gc: deleting: .*\| [0-3]/3 \[", proc.stderr), proc.stderr
    start = time.monotonic()
    quiet = run_cli(home, "gc", "--grace", "0", "--json")
    assert quiet.stderr == "" and json.loads(quiet.stdout)["blobs_deleted"] == 0
    assert time.monotonic() - start < 60
