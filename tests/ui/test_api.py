"""JSON API of the web page, against a real seeded registry (SQLite + local store)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import pytest
from fastapi import Depends, FastAPI, HTTPException, Request

with warnings.catch_warnings():  # starlette 1.x warns that its TestClient wants httpx2
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from artiflow import Registry
from artiflow.ui import create_app

BIG_FILES = 10_000  # as in conftest.seed_registry
STATIC = Path(__file__).parents[2] / "artiflow" / "ui" / "static"


def names(page: dict[str, Any]) -> list[str]:
    return [f"{c['project']}/{c['name']}" for c in page["items"]]


# ---- collections ------------------------------------------------------------------------


def test_collections_list_filters_search_and_pages(client: TestClient) -> None:
    page = client.get("api/collections").json()
    assert names(page) == [
        "default/bikes-clean",
        "default/churn-model",
        "default/eval-report",
        "default/many-files",
        "default/raw-bikes",
        "model-registry/churn",
        "team-b/embeddings",
    ]
    assert page["total"] == 7 and page["offset"] == 0
    assert page["types"] == ["dataset", "features", "model", "report"]
    assert page["projects"] == ["default", "model-registry", "team-b"]
    linked = next(c for c in page["items"] if c["project"] == "model-registry")
    assert linked["kind"] == "registry" and linked["type"] == "model"
    model = next(c for c in page["items"] if c["name"] == "churn-model")
    assert model["type"] == "model" and model["version_count"] == 2

    assert names(client.get("api/collections", params={"type": "model"}).json()) == [
        "default/churn-model",
        "model-registry/churn",
    ]
    assert names(client.get("api/collections", params={"project": "team-b"}).json()) == [
        "team-b/embeddings"
    ]
    assert names(client.get("api/collections", params={"q": "BIKES"}).json()) == [
        "default/bikes-clean",
        "default/raw-bikes",
    ]
    assert names(client.get("api/collections", params={"q": "feat"}).json()) == [
        "team-b/embeddings"
    ]
    second = client.get("api/collections", params={"offset": 2, "limit": 2}).json()
    assert names(second) == ["default/eval-report", "default/many-files"]
    assert second["total"] == 7
    assert client.get("api/collections", params={"limit": 0}).status_code == 422


def test_collection_detail_has_aliases(client: TestClient) -> None:
    c = client.get("api/collections/default/churn-model").json()
    assert c["aliases"] == {"latest": "v1", "production": "v1", "staging": "v1"}
    assert c["latest"]["version"] == "v1"
    assert client.get("api/collections/default/nope").status_code == 404


def test_versions_newest_first_and_paged(client: TestClient) -> None:
    page = client.get("api/collections/default/churn-model/versions").json()
    assert [v["version"] for v in page["items"]] == ["v1", "v0"]
    assert page["items"][0]["ref"] == "default/churn-model:v1"
    asc = client.get(
        "api/collections/default/churn-model/versions", params={"order": "asc", "limit": 1}
    ).json()
    assert [v["version"] for v in asc["items"]] == ["v0"] and asc["total"] == 2
    missing = client.get("api/collections/default/nope/versions")
    assert missing.status_code == 404
    assert "nope" in missing.json()["detail"]


def test_alias_history(client: TestClient) -> None:
    page = client.get("api/collections/default/churn-model/alias-history").json()
    moves = [(e["alias"], e["previous"], e["version"]) for e in page["items"]]
    assert ("production", "v0", "v1") in moves
    assert ("production", None, "v0") in moves
    assert all(e["alias"] != "latest" for e in page["items"])
    assert moves.index(("production", "v0", "v1")) < moves.index(("production", None, "v0"))
    only = client.get(
        "api/collections/default/churn-model/alias-history", params={"alias": "production"}
    ).json()
    assert [e["version"] for e in only["items"]] == ["v1", "v0"]


# ---- versions and files -------------------------------------------------------------------


def test_version_detail(client: TestClient) -> None:
    v = client.get("api/versions/default/churn-model/production").json()
    assert v["ref"] == "default/churn-model:v1" and v["version"] == "v1" and v["index"] == 1
    assert set(v["aliases"]) == {"latest", "production", "staging"}
    assert v["metadata"] == {"auc": 0.91, "params": {"depth": 6}}
    assert v["state"] == "COMMITTED" and v["type"] == "model" and v["file_count"] == 1
    assert len(v["digest"]) == 64
    assert v["producer"]["name"] == "train" and v["producer"]["orchestrator"] == "prefect"
    assert v["producer"]["pipeline_run"] == "flow-run-2"
    assert [r["name"] for r in v["consumers"]] == ["evaluate"]

    raw = client.get("api/versions/default/raw-bikes/latest").json()
    assert raw["tags"] == ["nightly"] and raw["producer"]["task"] == "ingest"
    assert [r["name"] for r in raw["consumers"]] == ["prepare"]
    assert v["linked"] is None
    member = client.get("api/versions/model-registry/churn/production").json()
    assert member["linked"] == "default/churn-model:v1"
    assert member["digest"] == v["digest"] and member["file_count"] == 1
    files = client.get("api/versions/model-registry/churn/v0/files").json()["items"]
    assert [f["path"] for f in files] == ["model.json"]
    assert client.get(files[0]["download"]).content == b'{"weights": [0.3, 0.1]}'
    assert client.get("api/versions/default/churn-model/v9").status_code == 404
    assert client.get("api/versions/default/churn-model/bad:sel").status_code in (404, 422)


def test_files_listing_with_references(client: TestClient) -> None:
    page = client.get("api/versions/default/bikes-clean/v0/files").json()
    assert [f["path"] for f in page["items"]] == [
        "lookup/stations.csv",
        "test/part-0.csv",
        "train/part-0.csv",
    ]
    ref = page["items"][0]
    assert ref["ref"].startswith("file://") and ref["ref"].endswith("stations.csv")
    stored = page["items"][2]
    assert stored["ref"] is None and stored["size"] == len("station,minutes\n1,12\n1,30\n2,7\n")
    assert stored["download"] == "api/versions/default/bikes-clean/v0/files/train/part-0.csv"
    assert page["file_count"] == 3 and page["total"] == 3
    filtered = client.get("api/versions/default/bikes-clean/v0/files", params={"q": "TRAIN"}).json()
    assert [f["path"] for f in filtered["items"]] == ["train/part-0.csv"]
    assert filtered["total"] == 1 and filtered["file_count"] == 3


def test_download_serves_verified_manifest_files_only(client: TestClient) -> None:
    r = client.get("api/versions/default/bikes-clean/production/files/train/part-0.csv")
    assert r.status_code == 200
    assert r.content == b"station,minutes\n1,12\n1,30\n2,7\n"
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-disposition"] == "attachment; filename*=utf-8''part-0.csv"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-security-policy"] == "sandbox"
    # a reference is fetched through the core and checked
    ref = client.get("api/versions/default/bikes-clean/v0/files/lookup/stations.csv")
    assert ref.status_code == 200 and ref.content.startswith(b"station,city")
    # anything not in the manifest is refused, however it is spelled
    for bad in [
        "train",
        "train/",
        "../raw-bikes/rentals.csv",
        "train/%2E%2E/%2E%2E/%2E%2E/%2E%2E/registry.db",
        "train%2F..%2F..%2F..%2F..%2Fregistry.db",
        "%2E%2E/%2E%2E/registry.db",
        "..%2F..%2Fregistry.db",
        "/etc/passwd",
        "registry.db",
    ]:
        resp = client.get(f"api/versions/default/bikes-clean/v0/files/{bad}")
        assert resp.status_code == 404, (bad, resp.status_code)
        assert b"station" not in resp.content


def test_corrupt_blob_is_never_served_as_good(tmp_path: Path, live_server: Any) -> None:
    import httpx

    from artiflow import Artifact

    reg = Registry(home=tmp_path)
    art = Artifact("small", type="dataset")
    with art.new_file("a.txt") as f:
        f.write("hello world\n" * 1000)
    with art.new_file("big.bin", mode="wb") as f:
        f.write(bytes(range(256)) * (12 * 1024))  # 3 MiB: several chunks
    v = reg.log(art)

    def tamper(path: str) -> bytes:
        blob = Path(reg.store.path(v.get_path(path).digest))
        blob.chmod(0o644)
        data = bytearray(blob.read_bytes())
        data[-5:] = b"XXXXX"  # the end: caught only when the whole file was hashed
        blob.write_bytes(bytes(data))
        return bytes(data)

    tamper("a.txt")
    bad_big = tamper("big.bin")
    with TestClient(create_app(reg), raise_server_exceptions=False) as c:
        # small: checked before the first byte is sent
        r = c.get("api/versions/default/small/v0/files/a.txt")
        assert r.status_code == 502 and r.json()["error"] == "VerificationError"
    # big (3 MiB, under the 64 MiB spool limit): verified whole before the response starts, so
    # the client gets a 502 and not one byte of the file (was: 200 and the first 2 MiB)
    with live_server(create_app(reg)) as base:
        url = f"{base}api/versions/default/small/v0/files/big.bin"
        with httpx.stream("GET", url, timeout=30) as r:
            body = r.read()
            assert r.status_code == 502, r.status_code
            assert r.headers["content-type"] == "application/json"
            assert bad_big[:64] not in body and len(body) < 2000
    reg.close()


# ---- runs and lineage ---------------------------------------------------------------------


def test_runs_list_and_detail(client: TestClient) -> None:
    page = client.get("api/runs", params={"limit": 50}).json()
    assert {r["name"] for r in page["items"]} == {"ingest", "prepare", "train", "evaluate"}
    assert page["has_more"] is False
    trains = client.get("api/runs", params={"pipeline": "train-churn"}).json()["items"]
    assert sorted(r["name"] for r in trains) == ["evaluate", "train", "train"]
    small = client.get("api/runs", params={"limit": 2}).json()
    assert len(small["items"]) == 2 and small["has_more"] is True

    prepare = next(r for r in page["items"] if r["name"] == "prepare")
    run = client.get(f"api/runs/{prepare['id']}").json()
    assert run["orchestrator"] == "airflow" and run["pipeline"] == "bikes_etl"
    assert run["state"] == "SUCCESS"
    assert [v["ref"] for v in run["used"]] == ["default/raw-bikes:v0"]
    assert [v["ref"] for v in run["logged"]] == ["default/bikes-clean:v0"]
    assert client.get("api/runs/does-not-exist").status_code == 404


def lineage(client: TestClient, ref: str, **params: Any) -> dict[str, Any]:
    r = client.get(f"api/lineage/{ref}", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_lineage_upstream_reaches_raw_data(client: TestClient) -> None:
    g = lineage(client, "default/churn-model/production", direction="upstream")
    refs = {n["ref"] for n in g["nodes"] if n["kind"] == "version"}
    assert refs == {"default/churn-model:v1", "default/bikes-clean:v0", "default/raw-bikes:v0"}
    runs = sorted(n["label"] for n in g["nodes"] if n["kind"] == "run")
    assert runs == ["ingest", "prepare", "train"]
    root = next(n for n in g["nodes"] if n["id"] == g["root"])
    assert root["ref"] == "default/churn-model:v1"
    ids = {n["id"] for n in g["nodes"]}
    assert all(e["source"] in ids and e["target"] in ids for e in g["edges"])
    by_id = {n["id"]: n for n in g["nodes"]}
    kinds = {(by_id[e["source"]]["kind"], by_id[e["target"]]["kind"]) for e in g["edges"]}
    assert kinds == {("run", "version"), ("version", "run")}
    for n in g["nodes"]:
        if n["kind"] == "run":
            assert n["run_id"] and client.get(f"api/runs/{n['run_id']}").status_code == 200


def test_lineage_direction_and_depth(client: TestClient) -> None:
    one = lineage(client, "default/churn-model/v1", direction="upstream", depth=1)
    assert {n["ref"] for n in one["nodes"] if n["kind"] == "version"} == {
        "default/churn-model:v1",
        "default/bikes-clean:v0",
    }
    down = lineage(client, "default/raw-bikes/v0", direction="downstream")
    assert "default/eval-report:v0" in {n["ref"] for n in down["nodes"]}
    assert "model-registry/churn:v0" in {n["ref"] for n in down["nodes"]}
    assert "link" in {e["kind"] for e in down["edges"]}
    assert "default/raw-bikes:v0" in {n["ref"] for n in down["nodes"]}
    both = lineage(client, "default/bikes-clean/v0", direction="both", depth=1)
    refs = {n["ref"] for n in both["nodes"] if n["kind"] == "version"}
    assert {"default/raw-bikes:v0", "default/churn-model:v0", "default/churn-model:v1"} <= refs
    bad = client.get("api/lineage/default/churn-model/v1", params={"direction": "sideways"})
    assert bad.status_code == 422


# ---- page, static files, docs ---------------------------------------------------------------


def test_page_and_static_files_are_relative_and_offline(client: TestClient) -> None:
    page = client.get("")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "script-src 'self'" in page.headers["content-security-policy"]
    html = page.text
    assert 'src="static/app.js"' in html and 'href="static/style.css"' in html
    assert not re.search(r'(src|href)="/', html), "links must be relative to the mount point"
    for path in sorted(STATIC.rglob("*")):
        if path.is_file():
            rel = path.relative_to(STATIC).as_posix()
            r = client.get(f"static/{rel}")
            assert r.status_code == 200, rel
            text = r.content.decode("utf-8", "replace")
            urls = set(re.findall(r"https?://[^\s\"'`)]+", text)) - {"http://www.w3.org/2000/svg"}
            assert not urls, f"{rel} refers to external URLs (no CDN allowed): {urls}"
            assert not re.search(r"fetch\(\s*[\"'`]/", text), f"{rel} fetches an absolute path"
    js = client.get("static/app.js")
    assert js.headers["content-type"].startswith("text/javascript")
    again = client.get("static/app.js", headers={"If-None-Match": js.headers["etag"]})
    assert again.status_code == 304 and not again.content
    assert client.get("static/../_app.py").status_code == 404
    assert client.get("static/nope.js").status_code == 404


def test_openapi_document(client: TestClient) -> None:
    doc = client.get("api/openapi.json").json()
    paths = doc["paths"]
    for p in [
        "/api/collections",
        "/api/collections/{project}/{name}/versions",
        "/api/collections/{project}/{name}/alias-history",
        "/api/versions/{project}/{name}/{selector}",
        "/api/versions/{project}/{name}/{selector}/files",
        "/api/versions/{project}/{name}/{selector}/files/{path}",
        "/api/runs",
        "/api/runs/{run_id}",
        "/api/lineage/{project}/{name}/{selector}",
    ]:
        assert p in paths, p
    params = {q["name"] for q in paths["/api/collections"]["get"]["parameters"]}
    assert {"project", "type", "q", "offset", "limit"} <= params
    assert not any(m in paths[p] for p in paths for m in ("put", "patch", "delete"))
    # Swagger's CDN page is not served: the page renders this document itself (#/api)
    assert client.get("docs").status_code == 404


# ---- safety: writes, dependencies, mounting, laziness -------------------------------------------


def test_read_only_by_default(client: TestClient) -> None:
    r = client.put("api/collections/default/churn-model/aliases/production", json={"version": "v0"})
    assert r.status_code in (404, 405)
    r = client.patch("api/versions/default/churn-model/v0", json={"description": "x"})
    assert r.status_code in (404, 405)
    assert client.get("api/config").json()["allow_writes"] is False


def test_writes_need_the_token(tmp_path: Path, seed: Any) -> None:
    reg = seed(tmp_path, big=False)
    with TestClient(create_app(reg, allow_writes=True, write_token="s3cret")) as c:
        url = "api/collections/default/churn-model/aliases/production"
        assert c.put(url, json={"version": "v0"}).status_code == 401
        bad = {"Authorization": "Bearer nope"}
        assert c.put(url, json={"version": "v0"}, headers=bad).status_code == 401
        assert reg.get("churn-model:production").version == "v1"

        good = {"Authorization": "Bearer s3cret"}
        r = c.put(url, json={"version": "v0"}, headers=good)
        assert r.status_code == 200 and r.json()["version"] == "v0"
        assert reg.get("churn-model:production").version == "v0"
        history = c.get("api/collections/default/churn-model/alias-history").json()["items"]
        assert (history[0]["alias"], history[0]["previous"], history[0]["version"]) == (
            "production",
            "v1",
            "v0",
        )
        # the header hosts with their own Authorization (Airflow) use
        r = c.delete(url, headers={"X-Artiflow-Token": "s3cret"})
        assert r.status_code == 200 and "production" not in r.json()["aliases"]
        # a well-formed name artiflow reserves: a conflict with what it manages (the schema
        # admits the name, so 400 would tell a client its request was malformed)
        managed = c.delete("api/collections/default/churn-model/aliases/latest", headers=good)
        assert managed.status_code == 409 and "managed by artiflow" in managed.json()["detail"]

        patch = {
            "description": "retrained",
            "metadata": {"auc": None, "owner": "ml"},
            "tags": ["x"],
        }
        r = c.patch("api/versions/default/churn-model/v1", json=patch, headers=good)
        assert r.status_code == 200, r.text
        v = reg.get("churn-model:v1")
        assert v.description == "retrained" and v.tags == ["x"]
        assert v.metadata == {"params": {"depth": 6}, "owner": "ml"}
        assert c.patch("api/versions/default/churn-model/v1", json=patch).status_code == 401
        assert c.get("api/config").json()["allow_writes"] is True
        doc = c.get("api/openapi.json").json()
        assert "put" in doc["paths"]["/api/collections/{project}/{name}/aliases/{alias}"]
    reg.close()
    with pytest.raises(ValueError, match="write_token"):
        create_app(reg, allow_writes=True)


def test_dependencies_guard_every_route(registry: Registry) -> None:
    def airflow_like_auth(request: Request) -> None:
        if request.headers.get("x-user") != "alice":
            raise HTTPException(403, "not logged in")

    app = create_app(registry, dependencies=[Depends(airflow_like_auth)])
    with TestClient(app) as c:
        for url in ["", "static/app.js", "api/openapi.json", "api/collections", "api/runs"]:
            assert c.get(url).status_code == 403, url
            assert c.get(url, headers={"x-user": "alice"}).status_code == 200, url


def test_mounted_under_a_prefix(registry: Registry) -> None:
    parent = FastAPI()
    parent.mount("/artiflow", create_app(registry))
    with TestClient(parent) as c:
        r = c.get("/artiflow", follow_redirects=False)
        assert r.status_code in (301, 302, 307, 308)
        assert r.headers["location"].endswith("/artiflow/")
        page = c.get("/artiflow/")
        assert page.status_code == 200 and 'src="static/app.js"' in page.text
        assert c.get("/artiflow/static/app.js").status_code == 200
        assert c.get("/artiflow/api/collections").json()["total"] == 7
        files = c.get("/artiflow/api/versions/default/raw-bikes/v0/files").json()
        download = files["items"][0]["download"]
        assert not download.startswith("/")
        assert c.get(f"/artiflow/{download}").content.startswith(b"id,station")


def test_registry_is_created_lazily(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("ARTIFLOW_HOME", str(home))
    monkeypatch.delenv("ARTIFLOW_DB_URL", raising=False)
    monkeypatch.delenv("ARTIFLOW_STORE_URL", raising=False)
    app = create_app()
    assert not home.exists()
    with TestClient(app) as c:
        assert c.get("").status_code == 200
        assert c.get("api/collections").json()["total"] == 0
    assert (home / "registry.db").exists()


def test_registry_factory_is_called_once_at_first_request(registry: Registry) -> None:
    calls = []

    def factory() -> Registry:
        calls.append(1)
        return registry

    app = create_app(factory)
    assert calls == []
    with TestClient(app) as c:
        assert c.get("").status_code == 200 and calls == []  # the page needs no registry
        assert c.get("api/collections").json()["total"] == 7
        assert c.get("api/runs").status_code == 200
    assert calls == [1]


# ---- speed ------------------------------------------------------------------------------


def test_big_version_is_paged_server_side(client: TestClient) -> None:
    # how fast these pages are is measured by `make bench` (bench/), not asserted here
    base = "api/versions/default/many-files/v0"
    v = client.get(base).json()
    first = client.get(f"{base}/files", params={"limit": 100}).json()
    assert v["file_count"] == BIG_FILES and first["total"] == BIG_FILES
    assert len(first["items"]) == 100
    assert first["items"][0]["path"] == "part-00/row-00000.txt"
    last = client.get(f"{base}/files", params={"offset": BIG_FILES - 100, "limit": 100}).json()
    search = client.get(f"{base}/files", params={"q": "row-0999"}).json()
    assert last["items"][-1]["path"] == "part-09/row-09999.txt"
    assert [f["path"] for f in search["items"]] == [f"part-09/row-0999{i}.txt" for i in range(10)]
