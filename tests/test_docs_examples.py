"""Every ```python block of docs/*.md runs (or, when marked, at least compiles).

The convention, visible in the Markdown source: an HTML comment on the line before a fence

* ``<!-- not run: REASON -->`` — the block is only ``compile()``d (a fragment of a larger
  function, a call that needs a server, an example that shows an error on purpose);
* ``<!-- run: cli -->`` before a ```console / ```bash block — each ``$ artiflow ...`` line runs
  (after the page's Python, in the same folder and registry) and must exit 0.

Every other ```python block runs. The blocks of one page run in order in one namespace (a
page reads top to bottom), in a subprocess with a fresh ``ARTIFLOW_HOME`` and a temporary
working folder; ``SETUP`` holds what a page assumes without showing it (input files, the
versions an example starts from). ``docs/airflow.md`` is one DAG file: its blocks, joined,
are imported by a real ``DagBag`` that must report no import error. ``docs/prefect.md`` runs
its blocks (definitions of tasks, flows and triggers) without a Prefect server, and
``tests/prefect/test_prefect_docs_examples.py`` runs them again and calls the flows they define
on the Prefect test server of that folder; the blocks that need a deployment are marked.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"

FENCE = re.compile(
    r"^(?P<indent>[ ]*)```(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=indent)```[ ]*$", re.M | re.S
)
MARKER = re.compile(r"<!--\s*(not run|run):\s*(.*?)\s*-->\s*$")

# Pages other helpers own: blocks that cannot run as written and carry no marker yet
# (page, start of the block's first line) -> why. Remove an entry once the page has its marker.
PENDING_MARKERS: dict[tuple[str, str], str] = {}

# What a page takes for granted, run before its first block (same namespace, same folder).
SETUP: dict[str, str] = {
    "concepts.md": """
from pathlib import Path
for p, text in {
    "data/raw/rentals-2024-06.csv": "hour,count\\n0,12\\n",
    "data/schema.json": "{}",
    "big/rentals-2024.parquet": "PAR1",
    "big/features/part-0.parquet": "PAR1",
    "model.pkl": "pickle",
}.items():
    Path(p).parent.mkdir(parents=True, exist_ok=True)
    Path(p).write_text(text)
""",
    "pipelines.md": """
from artiflow import Artifact, Registry
_reg = Registry()
for _i in range(2):  # bike-dataset:v0 holds production, v1 is newer
    _d = Artifact("bike-dataset", type="dataset")
    with _d.new_file("data.csv") as _f:
        _f.write(f"hour,count\\n0,{_i}\\n")
    _reg.log(_d, aliases=["production"] if _i == 0 else [])
_reg.close()
""",
    "bad-data.md": """
from artiflow import Artifact, Registry
registry = Registry()
def _draft(name, text):
    d = Artifact(name)
    with d.new_file("data.txt") as f:
        f.write(text)
    return d
for _i in range(4):  # bike-raw:v0..v3
    registry.log(_draft("bike-raw", f"raw {_i}"))
with registry.run("featurize", pipeline="features") as _r:
    _r.use("bike-raw:v3")
    _r.log(_draft("bike-features", "features of raw v3"))
with registry.run("train", pipeline="retrain") as _r:
    _r.use("bike-features")
    _r.log(_draft("bike-demand-model", "model"), aliases=["production"])
""",
    "prefect.md": """
def make_csv(rows):  # the helpers the page's tasks call
    return "hour,count\\n" + "".join(f"{i % 24},{i}\\n" for i in range(rows))
def fit(rows, epochs):
    return f'{{"rows": {len(rows.splitlines()) - 1}, "epochs": {epochs}}}'
def make_shard(i):
    return f"shard,{i}\\n"
""",
}

# What runs after a page's blocks: checks of what they built. (The flows docs/prefect.md
# defines are called by tests/prefect/test_prefect_docs_examples.py, on the session's server.)
AFTER: dict[str, str] = {
    "bad-data.md": """
found = {c.split("/")[-1] for c in result.by_collection()}
assert found == {"bike-features", "bike-demand-model"}, found
""",
}

# docs/airflow.md as a DAG file: the DAGs its blocks define
AIRFLOW_DAGS = {"bike_model_retrain", "bike_model_deploy", "deploy", "rebuild_or_page"}


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    lang: str
    code: str
    marker: tuple[str, str] | None  # ("not run", reason) / ("run", "cli")

    @property
    def where(self) -> str:
        return f"docs/{self.page}:{self.line}"


def blocks(page: str) -> list[Block]:
    text = (DOCS / page).read_text()
    found = []
    for m in FENCE.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        mk = MARKER.search(before)
        code = textwrap.dedent(m.group("body"))
        marker = (mk.group(1), mk.group(2)) if mk else None
        if marker is None:
            for (p, start), why in PENDING_MARKERS.items():
                if p == page and code.lstrip().startswith(start):
                    marker = ("not run", f"pending marker: {why}")
        found.append(Block(page, line, m.group("info").strip().split(" ")[0], code, marker))
    return found


def python_blocks(page: str) -> list[Block]:
    return [b for b in blocks(page) if b.lang == "python"]


def runnable(page: str) -> list[Block]:
    return [b for b in python_blocks(page) if b.marker is None]


PAGES = sorted(p.name for p in DOCS.glob("*.md"))
LIBRARY_PAGES = [p for p in PAGES if p not in ("airflow.md",) and runnable(p)]


def _env(tmp: Path) -> dict[str, str]:
    env = {**os.environ, "ARTIFLOW_HOME": str(tmp / "home"), "PYTHONPATH": str(REPO)}
    for var in (
        "ARTIFLOW_DB_URL",
        "ARTIFLOW_STORE_URL",
        "ARTIFLOW_PROJECT",
        "ARTIFLOW_REGISTRY_NAME",
        "ARTIFLOW_CONN_ID",
        "PREFECT_API_URL",
    ):
        env.pop(var, None)
    env.update(
        {
            "AIRFLOW_HOME": str(tmp / "airflow"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            "PREFECT_HOME": str(tmp / "prefect"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "WARNING",
            # a block that needs the Prefect API fails at once instead of starting a server
            "PREFECT_SERVER_ALLOW_EPHEMERAL_MODE": "false",
        }
    )
    return env


# Runs a page's blocks in order in one namespace; names the block that failed.
DRIVER = """
import json, sys, traceback
ns = {"__name__": "__main__"}
for where, code in json.load(open(sys.argv[1])):
    try:
        exec(compile(code, where, "exec"), ns)
    except BaseException:
        traceback.print_exc()
        print(f"DOCS EXAMPLE FAILED: {where}", file=sys.stderr)
        sys.exit(1)
"""


def _run_python(tmp: Path, page: str, blocks_: list[Block]) -> subprocess.CompletedProcess:
    import json

    work = tmp / "work"
    work.mkdir(exist_ok=True)
    chunks = [[f"<setup of {page}>", SETUP[page]]] if page in SETUP else []
    chunks += [[b.where, b.code] for b in blocks_]
    if page in AFTER:
        chunks.append([f"<after the blocks of {page}>", AFTER[page]])
    (tmp / "blocks.json").write_text(json.dumps(chunks))
    return subprocess.run(
        [sys.executable, "-c", DRIVER, str(tmp / "blocks.json")],
        cwd=work,
        env=_env(tmp),
        capture_output=True,
        text=True,
        timeout=180,
    )


STAMP = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?")


def _commands(code: str) -> list[tuple[str, list[str]]]:
    """``$ artiflow ...`` lines of a console block, each with the output lines shown under it."""
    found: list[tuple[str, list[str]]] = []
    for line in code.splitlines():
        if line.startswith("$ "):
            found.append((line, []))
        elif found and line.strip():
            found[-1][1].append(line)
    return [(cmd, shown) for cmd, shown in found if cmd.startswith("$ artiflow ")]


def _run_cli(tmp: Path, page: str) -> None:
    """Each ``$ artiflow`` line of a ``run: cli`` block exits 0 and prints what the page shows
    under it (timestamps aside)."""
    for b in blocks(page):
        if b.marker != ("run", "cli"):
            continue
        for line, shown in _commands(b.code):
            args = line[2:].split("#", 1)[0].split()[1:]
            out = subprocess.run(
                [sys.executable, "-m", "artiflow.cli", *args],
                cwd=tmp / "work",
                env=_env(tmp),
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert out.returncode == 0, f"{b.where}: `{line}` -> {out.returncode}\n{out.stderr}"
            if shown:
                printed = [STAMP.sub("<time>", x.rstrip()) for x in out.stdout.splitlines()]
                assert printed == [STAMP.sub("<time>", x.rstrip()) for x in shown], (
                    f"{b.where}: `{line}` printed\n{out.stdout}"
                )


@pytest.mark.parametrize("page", PAGES)
def test_marked_blocks_compile(page: str) -> None:
    """A block deliberately not run still parses as Python, and says why it is not run."""
    for b in python_blocks(page):
        if b.marker is not None:
            assert b.marker[0] == "not run" and b.marker[1], f"{b.where}: marker without reason"
            compile(b.code, b.where, "exec")
    for b in blocks(page):
        if b.marker == ("run", "cli"):
            assert b.lang in ("console", "bash"), f"{b.where}: `run: cli` on a {b.lang} block"


@pytest.mark.parametrize("page", LIBRARY_PAGES)
def test_page_examples_run(page: str, tmp_path: Path) -> None:
    out = _run_python(tmp_path, page, runnable(page))
    assert out.returncode == 0, out.stderr[-4000:]
    _run_cli(tmp_path, page)


AIRFLOW_CHECK = """
import sys
from airflow.dag_processing.dagbag import DagBag

bag = DagBag(sys.argv[1])
for path, err in bag.import_errors.items():
    print(f"IMPORT ERROR {path}:\\n{err}", file=sys.stderr)
print(" ".join(sorted(bag.dag_ids)))
sys.exit(1 if bag.import_errors else 0)
"""


def test_airflow_page_is_a_dag_file(tmp_path: Path) -> None:
    """docs/airflow.md's blocks, joined in order, are a DAG file a real DagBag imports."""
    parts = [f"# --- {b.where}\n{b.code}" for b in runnable("airflow.md")]
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "docs_airflow.py").write_text("\n".join(parts))
    (tmp_path / "work").mkdir()
    out = subprocess.run(
        [sys.executable, "-c", AIRFLOW_CHECK, str(dags)],
        cwd=tmp_path / "work",
        env={**_env(tmp_path), "AIRFLOW__CORE__DAGS_FOLDER": str(dags)},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr[-4000:]
    assert set(out.stdout.split()) >= AIRFLOW_DAGS, out.stdout


@pytest.mark.parametrize("page", PAGES)
def test_no_block_escapes_the_parser(page: str) -> None:
    """Every fence of the page is one of the blocks above (none skipped by an odd indent)."""
    fences = re.findall(r"^[ ]*```", (DOCS / page).read_text(), re.M)
    assert len(fences) == 2 * len(blocks(page)), f"docs/{page}: a fence the test does not see"
