"""What the distribution promises: license, classifiers, URLs, version ranges that agree and
hold, the floors `make test-floor` installs, and the dist check CI runs (.ci/check_dist.py)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
EXTRAS: dict[str, list[str]] = PROJECT["optional-dependencies"]
ORCHESTRATORS = ("apache-airflow", "prefect")


def reqs(extra: str) -> list[Requirement]:
    return [Requirement(r) for r in EXTRAS[extra]]


def self_extras(extra: str) -> set[str]:
    """The extras an extra pulls in through ``artiflow[...]``."""
    return {e for r in reqs(extra) if r.name == "artiflow" for e in r.extras}


def test_license_is_apache_2_spdx_and_shipped() -> None:
    assert PROJECT["license"] == "Apache-2.0"
    assert PROJECT["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.lstrip().startswith("Apache License\n                           Version 2.0")
    for clause in ("TERMS AND CONDITIONS FOR USE", "9. Accepting Warranty", "END OF TERMS"):
        assert clause in text
    # PEP 639: with an SPDX expression, License :: classifiers are not allowed
    assert not [c for c in PROJECT["classifiers"] if c.startswith("License ::")]


def test_classifiers_urls_and_python_versions() -> None:
    classifiers = PROJECT["classifiers"]
    assert "Framework :: Apache Airflow :: Provider" in classifiers
    assert "Typing :: Typed" in classifiers and (ROOT / "artiflow" / "py.typed").is_file()
    assert {"Homepage", "Repository", "Issues", "Documentation"} <= set(PROJECT["urls"])
    assert all(u.startswith("https://") for u in PROJECT["urls"].values())
    supported = SpecifierSet(PROJECT["requires-python"])
    listed = [
        c.rsplit(" :: ", 1)[1]
        for c in classifiers
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    ]
    assert listed, "name the Python versions CI tests"
    assert all(Version(v) in supported for v in listed), (listed, supported)
    # the suite runs on the Python it declares (CI's interpreter is the tested one)
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert Version(here) in supported and here in listed
    tomllib.loads((ROOT / "pyproject.toml").read_text())  # parses (RUF200 reads it too)


def test_orchestrator_ranges_agree_across_extras() -> None:
    specs: dict[str, set[str]] = {name: set() for name in ORCHESTRATORS}
    for extra in EXTRAS:
        for r in reqs(extra):
            if r.name in specs:
                specs[r.name].add(str(r.specifier))
    assert all(len(s) == 1 for s in specs.values()), f"extras disagree: {specs}"
    assert {"airflow", "prefect"} <= self_extras("all")
    # [prefect] caps FastAPI where Prefect below 3.7.8 stops starting, like Airflow 3.3 does
    fastapi = [r for r in reqs("prefect") if r.name == "fastapi"]
    assert fastapi and Version("0.137") not in fastapi[0].specifier


def test_floors_are_the_pins_make_test_floor_installs() -> None:
    pins = {}
    for line in (ROOT / ".ci" / "floor-constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            r = Requirement(line)
            (spec,) = r.specifier
            assert spec.operator == "==", line
            pins[r.name] = Version(spec.version)
    assert set(pins) == set(ORCHESTRATORS)
    for extra in ("airflow", "prefect"):
        for r in reqs(extra):
            if r.name in pins:
                floors = [Version(s.version) for s in r.specifier if s.operator == ">="]
                assert floors == [pins[r.name]], (
                    f"{r}: floor != {pins[r.name]} tested by test-floor"
                )
                assert pins[r.name] in r.specifier
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^test-floor:", makefile, re.M)
    assert "-c .ci/floor-constraints.txt" in makefile and "tests/airflow tests/prefect" in makefile
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.index("make test\n") < ci.index("check_dist.py") < ci.index("make test-floor")


@pytest.mark.parametrize("dist", ORCHESTRATORS)
def test_the_main_suite_runs_inside_the_declared_range(dist: str) -> None:
    try:
        installed = Version(importlib.metadata.version(dist))
    except importlib.metadata.PackageNotFoundError:
        pytest.skip(f"{dist} is not installed")
    (spec,) = {r.specifier for extra in EXTRAS for r in reqs(extra) if r.name == dist}
    assert installed in spec, f"{dist} {installed} is outside the declared {spec}"


def test_celery_openlineage_and_dev_extras() -> None:
    celery = {r.name: r for r in reqs("celery")}
    assert Version("5.7") not in celery["celery"].specifier
    assert Version("5.6.3") in celery["celery"].specifier and "redis" in celery["celery"].extras
    assert Version("5.7") not in celery["kombu"].specifier
    assert Version("3.26") in celery["apache-airflow-providers-celery"].specifier
    assert [r.name for r in reqs("openlineage")] == ["apache-airflow-providers-openlineage"]
    dev = {r.name: r for r in reqs("dev")}
    # dev resolves moto together with s3fs (whose aiobotocore pins botocore), and tests the
    # Celery and OpenLineage integrations
    assert {"s3", "celery", "openlineage"} <= self_extras("dev")
    assert Version("6") not in dev["moto"].specifier and "server" in dev["moto"].extras
    assert {"build", "twine", "pytest", "pytest-timeout"} <= set(dev)


def _check_dist_module():
    spec = importlib.util.spec_from_file_location("check_dist", ROOT / ".ci" / "check_dist.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _wheel(path: Path, names: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in names.items():
            zf.writestr(name, text)
    return path


def test_the_dist_check_finds_what_a_wheel_lacks_or_should_not_hold(tmp_path: Path) -> None:
    check = _check_dist_module()
    expected = check.expected_files()
    assert "artiflow/catalog/migrations/versions/0001_initial_schema.py" in expected
    assert "artiflow/ui/static/index.html" in expected and "artiflow/py.typed" in expected
    meta = (
        "Metadata-Version: 2.4\nName: artiflow\nLicense-Expression: Apache-2.0\n"
        "Requires-Python: >=3.11\nProject-URL: Homepage, https://x\n\n"
    )
    eps = "[console_scripts]\nartiflow = artiflow.cli:main\n[airflow.plugins]\nartiflow = artiflow.plugin:ArtiflowPlugin\n"
    good = {name: "" for name in expected}
    good |= {
        "artiflow-0.1.0.dist-info/METADATA": meta,
        "artiflow-0.1.0.dist-info/entry_points.txt": eps,
        "artiflow-0.1.0.dist-info/licenses/LICENSE": "Apache",
    }
    assert check.problems_in_wheel(_wheel(tmp_path / "good.whl", good)) == []
    bad = {k: v for k, v in good.items() if not k.startswith("artiflow/ui/static/")}
    bad |= {"tests/test_x.py": "", "artiflow/__pycache__/x.pyc": ""}
    bad["artiflow-0.1.0.dist-info/METADATA"] = meta.replace("Apache-2.0", "MIT")
    found = "\n".join(check.problems_in_wheel(_wheel(tmp_path / "bad.whl", bad)))
    assert "missing from the wheel: artiflow/ui/static/index.html" in found
    assert "inside the wheel: tests/test_x.py" in found and "byte code" in found
    assert "License-Expression is 'MIT'" in found
