#!/usr/bin/env python3
"""Build the sdist and the wheel into a temporary folder and check what a user would install.

- ``python -m build`` (sdist, then the wheel built from that sdist, as pip would)
- ``twine check --strict`` (metadata and the README render on the package index)
- the wheel holds every Alembic migration, the migration environment, the web page's static
  files, ``py.typed`` and the LICENSE; it holds no tests, examples or benchmarks
- the wheel's metadata says ``License-Expression: Apache-2.0`` and names the entry points
- the wheel installs into a fresh venv (core dependencies only) and works there: the
  ``artiflow`` command logs and shows a version on a new embedded registry (migrations run
  from inside the wheel), outside the source tree

Run from the repository root: ``python .ci/check_dist.py`` (exit 1 with the reasons on failure).
Needs ``build`` and ``twine`` (both in the ``dev`` extra). Example::

    $ .venv/bin/python .ci/check_dist.py
    dist ok: artiflow-0.1.0.tar.gz, artiflow-0.1.0-py3-none-any.whl (87 files) in 14.2 s
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from email.parser import Parser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def expected_files() -> list[str]:
    """Files of the source tree that must be inside the wheel (paths as in the wheel)."""
    pkg = ROOT / "artiflow"
    wanted = [
        *sorted(pkg.glob("catalog/migrations/versions/*.py")),
        pkg / "catalog/migrations/env.py",
        pkg / "catalog/migrations/script.py.mako",
        *sorted(p for p in (pkg / "ui/static").rglob("*") if p.is_file()),
        pkg / "py.typed",
    ]
    return [p.relative_to(ROOT).as_posix() for p in wanted]


def problems_in_wheel(wheel: Path) -> list[str]:
    """What is wrong with a built wheel (empty when it is right)."""
    out: list[str] = []
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        meta_name = next((n for n in names if n.endswith(".dist-info/METADATA")), None)
        meta = Parser().parsestr(zf.read(meta_name).decode()) if meta_name else None
        entry_points = next((n for n in names if n.endswith(".dist-info/entry_points.txt")), None)
        eps = zf.read(entry_points).decode() if entry_points else ""
    for path in expected_files():
        if path not in names:
            out.append(f"missing from the wheel: {path}")
    if not any(n.endswith(".dist-info/licenses/LICENSE") for n in names):
        out.append("the wheel does not ship LICENSE (license-files)")
    for n in sorted(names):
        top = n.split("/", 1)[0]
        if top in {"tests", "examples", "bench", "dags", "flows", "docs"} or "/tests/" in n:
            out.append(f"not part of the package but inside the wheel: {n}")
        if "__pycache__" in n or n.endswith(".pyc"):
            out.append(f"byte code inside the wheel: {n}")
    if meta is None:
        out.append("the wheel has no METADATA")
    else:
        if meta.get("License-Expression") != "Apache-2.0":
            out.append(f"License-Expression is {meta.get('License-Expression')!r}")
        if not meta.get("Requires-Python"):
            out.append("no Requires-Python")
        if not meta.get_all("Project-URL"):
            out.append("no Project-URL")
    for ep in ("artiflow = artiflow.cli:main", "artiflow.plugin:ArtiflowPlugin"):
        if ep not in eps:
            out.append(f"entry point missing: {ep}")
    return out


def smoke_install(wheel: Path, tmp: Path) -> list[str]:
    """Install ``wheel`` into a fresh venv and use it from outside the source tree."""
    venv, home, work = tmp / "venv", tmp / "home", tmp / "work"
    work.mkdir()
    (work / "data.txt").write_text("smoke\n")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py, cli = venv / "bin" / "python", venv / "bin" / "artiflow"
    subprocess.run([str(py), "-m", "pip", "install", "-q", str(wheel)], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARTIFLOW_", "PYTHON"))}
    steps = [
        [str(cli), "--home", str(home), "log", "data.txt", "--name", "smoke", "--json"],
        [str(cli), "--home", str(home), "show", "smoke:v0", "--json"],
        [
            str(py),
            "-c",
            "import artiflow, sys; sys.exit(0 if 'site-packages' in artiflow.__file__ else 1)",
        ],
    ]
    for step in steps:
        done = subprocess.run(step, cwd=work, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            return [f"the installed wheel failed {step[1:]}: {done.stderr[-1500:]}"]
    return []


def clean_copy(dest: Path) -> Path:
    """The files git would commit (tracked, or new and not ignored), copied to ``dest``: a build
    from the working tree would pick up a stale ``*.egg-info/SOURCES.txt`` and hide what the
    package configuration forgets."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    for rel in filter(None, listed.split("\0")):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


def main() -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="artiflow-dist-") as tmp:
        out = Path(tmp) / "dist"
        src = clean_copy(Path(tmp) / "src")
        subprocess.run(
            [sys.executable, "-m", "build", "--outdir", str(out), str(src)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        sdists, wheels = sorted(out.glob("*.tar.gz")), sorted(out.glob("*.whl"))
        if len(sdists) != 1 or len(wheels) != 1:
            print(f"dist: expected one sdist and one wheel, got {sdists + wheels}")
            return 1
        subprocess.run(
            [sys.executable, "-m", "twine", "check", "--strict", *map(str, sdists + wheels)],
            check=True,
        )
        problems = problems_in_wheel(wheels[0])
        with zipfile.ZipFile(wheels[0]) as zf:
            count = len(zf.namelist())
        problems = problems or smoke_install(wheels[0], Path(tmp))
        if problems:
            print("dist check failed:\n  " + "\n  ".join(problems))
            return 1
        print(
            f"dist ok: {sdists[0].name}, {wheels[0].name} ({count} files, installed in a fresh "
            f"venv) in "
            f"{time.monotonic() - started:.1f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
