"""The web API under hostile input (issue 11, item 14): bounded numbers, the write gate before
any body is read, capped bodies, a Host allow-list for the standalone server, and every status
code in the OpenAPI document. (The schemathesis run is in test_api_fuzz.py.)
"""

from __future__ import annotations

import socket
import time
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from artiflow.ui import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

TOKEN = "s3cret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
HUGE = "99999999999999999999"


@pytest.fixture(scope="module")
def writable(tmp_path_factory: pytest.TempPathFactory, seed: Any) -> Any:
    reg = seed(Path(tmp_path_factory.mktemp("hardening")), big=False)
    yield reg, create_app(reg, allow_writes=True, write_token=TOKEN)
    reg.close()


@pytest.fixture(scope="module")
def wclient(writable: Any) -> Any:
    with TestClient(writable[1], raise_server_exceptions=False) as c:
        yield c


@pytest.mark.parametrize(
    "url",
    [
        f"api/runs?offset={HUGE}",
        f"api/collections?offset={HUGE}",
        f"api/collections/default/churn-model/versions?offset={HUGE}",
        f"api/collections/default/churn-model/alias-history?offset={HUGE}",
        f"api/versions/default/raw-bikes/v0/files?offset={HUGE}",
        "api/runs?limit=100000",
        f"api/lineage/default/churn-model/v0?depth={HUGE}",
    ],
)
def test_numbers_out_of_range_are_422_not_500(wclient: Any, url: str) -> None:
    r = wclient.get(url)
    assert r.status_code == 422, (url, r.status_code, r.text)


def test_a_huge_version_index_is_404_not_500(wclient: Any) -> None:
    for url in [
        f"api/versions/default/churn-model/v{HUGE}",
        f"api/versions/default/churn-model/v{HUGE}/files",
        f"api/lineage/default/churn-model/v{HUGE}",
    ]:
        assert wclient.get(url).status_code == 404, url
    r = wclient.put(
        "api/collections/default/churn-model/aliases/x", json={"version": f"v{HUGE}"}, headers=AUTH
    )
    assert r.status_code == 404, r.text


def test_every_api_route_documents_its_error_statuses(wclient: Any) -> None:
    doc = wclient.get("api/openapi.json").json()
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            codes = set(op["responses"])
            assert {"400", "413"} <= codes, (method, path, codes)
            if "{" in path:
                assert {"404", "422"} <= codes, (method, path, codes)
            if method != "get":
                assert {"401", "409"} <= codes, (method, path, codes)
    patch = doc["paths"]["/api/versions/{project}/{name}/{selector}"]["patch"]
    assert "if-match" in {p["name"].lower() for p in patch["parameters"]}


def _raw(base: str, request: bytes, timeout: float = 5.0) -> tuple[bytes, float]:
    """Send ``request`` on a new connection, return (the response head, seconds it took)."""
    parts = urlsplit(base)
    start = time.monotonic()
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return data, time.monotonic() - start


def _patch_head(base: str, length: int, headers: str = "") -> bytes:
    host = urlsplit(base).netloc
    return (
        f"PATCH /api/versions/default/churn-model/v0 HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n{headers}\r\n"
    ).encode()


def test_no_token_is_refused_before_the_body_is_read(writable: Any, live_server: Any) -> None:
    """Headers announcing 300 MiB and no byte of it: the answer (401) comes at once. The old
    code waited for (and buffered) the whole body before checking the token."""
    with live_server(writable[1]) as base:
        head, took = _raw(base, _patch_head(base, 300 * 1024 * 1024), timeout=5)
        assert head.startswith(b"HTTP/1.1 401"), head[:200]
        assert took < 3
        # with the token, a declared body over the cap: 413 at once, nothing read
        head, took = _raw(
            base, _patch_head(base, 300 * 1024 * 1024, f"X-Artiflow-Token: {TOKEN}\r\n")
        )
        assert head.startswith(b"HTTP/1.1 413"), head[:200]


def test_streamed_bodies_are_capped(writable: Any, live_server: Any) -> None:
    with live_server(writable[1]) as base:

        def chunks() -> Any:
            for _ in range(64):
                yield b" " * 65536  # 4 MiB of JSON whitespace, chunked (no Content-Length)

        r = httpx.patch(
            f"{base}api/versions/default/churn-model/v0",
            content=chunks(),
            headers={**AUTH, "Content-Type": "application/json"},
            timeout=10,
        )
        assert r.status_code == 413, r.text
        assert "limited to 1048576 bytes" in r.json()["detail"]
        ok = httpx.patch(
            f"{base}api/versions/default/churn-model/v0",
            json={"description": "small"},
            headers=AUTH,
            timeout=10,
        )
        assert ok.status_code == 200, ok.text


def test_max_body_is_configurable(writable: Any) -> None:
    app = create_app(writable[0], allow_writes=True, write_token=TOKEN, max_body=64)
    with TestClient(app) as c:
        url = "api/versions/default/churn-model/v0"
        r = c.patch(url, json={"description": "x" * 100}, headers=AUTH)
        assert r.status_code == 413
        assert c.patch(url, json={"description": "short"}, headers=AUTH).status_code == 200
    with pytest.raises(ValueError, match="max_body"):
        create_app(writable[0], max_body=0)


def test_read_only_app_refuses_writes_without_reading(registry: Any) -> None:
    with TestClient(create_app(registry)) as c:
        r = c.patch("api/versions/default/churn-model/v0", json={"description": "x"})
        assert r.status_code == 405 and r.json()["error"] == "ReadOnly"


def test_allowed_hosts(registry: Any) -> None:
    app = create_app(registry, allowed_hosts=["localhost", "127.0.0.1", "*.corp.example"])
    with TestClient(app, base_url="http://localhost:8765") as c:
        assert c.get("api/config").status_code == 200
        assert c.get("api/config", headers={"Host": "models.corp.example"}).status_code == 200
        for evil in ["evil.example", "localhost.evil.example", "corp.example.evil", ""]:
            r = c.get("api/config", headers={"Host": evil})
            assert r.status_code == 400 and r.json()["error"] == "InvalidHost", evil
            assert c.get("", headers={"Host": evil}).status_code == 400  # the page too


def test_the_standalone_server_answers_only_its_own_host_names(
    tmp_path: Path, seed: Any, ui_command: Any
) -> None:
    """`artiflow ui` (bound to 127.0.0.1): loopback names work, a rebinding name gets 400."""
    seed(tmp_path, big=False).close()
    with ui_command(tmp_path) as base:
        port = urlsplit(base).port
        assert httpx.get(f"{base}api/collections").status_code == 200
        for host in [f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}"]:
            assert httpx.get(f"{base}api/config", headers={"Host": host}).status_code == 200
        r = httpx.get(f"{base}api/collections", headers={"Host": f"attacker.example:{port}"})
        assert r.status_code == 400 and r.json()["error"] == "InvalidHost"


def test_patch_if_match_and_etag(wclient: Any, writable: Any) -> None:
    url = "api/versions/default/eval-report/v0"
    first = wclient.get(url)
    tag = first.headers["etag"]
    assert tag == f'"v0.r{first.json()["revision"]}"'
    # another client edits it
    other = writable[0].get("eval-report:v0")
    other.tags.append("reviewed")
    other.save()
    stale = wclient.patch(url, json={"description": "mine"}, headers={**AUTH, "If-Match": tag})
    assert stale.status_code == 409 and stale.json()["error"] == "ConflictError"
    assert writable[0].get("eval-report:v0").description is None
    fresh = wclient.get(url).headers["etag"]
    ok = wclient.patch(url, json={"description": "mine"}, headers={**AUTH, "If-Match": fresh})
    assert ok.status_code == 200, ok.text
    assert ok.headers["etag"] != fresh and ok.json()["tags"] == ["reviewed"]
    assert wclient.patch(url, json={}, headers={**AUTH, "If-Match": '"v9.r0"'}).status_code == 409
    assert (
        wclient.patch(url, json={"tags": []}, headers={**AUTH, "If-Match": "*"}).status_code == 200
    )


def test_put_alias_compare_and_set(wclient: Any, writable: Any) -> None:
    url = "api/collections/default/churn-model/aliases/canary"
    r = wclient.put(url, json={"version": "v0", "expected": "none"}, headers=AUTH)
    assert r.status_code == 200
    r = wclient.put(url, json={"version": "v1", "expected": "none"}, headers=AUTH)
    assert r.status_code == 409
    assert writable[0].get("churn-model:canary").version == "v0"
    r = wclient.put(url, json={"version": "v1", "expected": "v0"}, headers=AUTH)
    assert r.status_code == 200 and "canary" in r.json()["aliases"]
