"""The collection detail counts one collection's versions, capped like the pages' totals."""

from __future__ import annotations

from typing import Any

from artiflow.catalog import Catalog


def test_collection_summary_counts_one_collection_up_to_a_cap() -> None:
    cat = Catalog.open("sqlite://")
    for i in range(5):
        cat.commit_version("p", "ds", "dataset", entries=[], digest=f"{i:064x}", size=0)
    cat.commit_version("p", "other", "dataset", entries=[], digest="f" * 64, size=0)
    found = cat.collection_summary("p", "ds")
    assert found is not None
    record, exact = found
    assert (record.name, record.version_count, record.latest_index, exact) == ("ds", 5, 4, True)
    capped = cat.collection_summary("p", "ds", count_cap=3)
    assert capped is not None
    assert (capped[0].version_count, capped[0].latest_index, capped[1]) == (3, 4, False)
    assert cat.collection_summary("p", "missing") is None


def test_collection_detail_says_whether_its_count_is_exact(client: Any) -> None:
    body = client.get("/api/collections/default/churn-model").json()
    assert (body["version_count"], body["version_count_exact"]) == (2, True)
    assert client.get("/api/collections/default/nope/versions").status_code == 404
