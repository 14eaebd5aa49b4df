"""The JSON API pages in the database: a page of a big version's files, or of a collection's
versions, never loads every row."""

from __future__ import annotations

import warnings
from typing import Any

from artiflow import Registry
from artiflow.ui import create_app


def _client(app: Any) -> Any:
    with warnings.catch_warnings():  # starlette 1.x warns that its TestClient wants httpx2
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    return TestClient(app)


def test_files_page_of_a_big_version_reads_only_that_page(registry: Registry) -> None:
    app = create_app(registry)
    with _client(app) as client:
        first = client.get("api/versions/default/many-files/v0/files", params={"limit": 100})
        body = first.json()
        assert body["file_count"] == 10_000 and body["total"] == 10_000
        assert body["has_more"] is True and len(body["items"]) == 100
        paths = [f["path"] for f in body["items"]]
        assert paths == sorted(paths)
        later = client.get(
            "api/versions/default/many-files/v0/files", params={"offset": 9_950, "limit": 100}
        ).json()
        assert len(later["items"]) == 50 and later["has_more"] is False
        assert len(app.state.ui.manifests) == 0  # no manifest was loaded into the cache
        # a text filter still searches the whole manifest (then it is cached)
        found = client.get(
            "api/versions/default/many-files/v0/files", params={"q": "row-0999"}
        ).json()
        assert found["total"] >= 1 and len(app.state.ui.manifests) == 1
