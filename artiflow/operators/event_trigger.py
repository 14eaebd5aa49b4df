"""``ArtifactEventTrigger``: start asset-scheduled DAGs when the registry changes, from anywhere.

A version logged or an alias moved by the CLI, a Prefect flow, a notebook or another machine
emits no Airflow asset event by itself. Put this trigger in an ``AssetWatcher`` on the artiflow
Asset of the collection (or of the alias): the triggerer polls the registry's catalog every
``poll_interval`` seconds and fires one event per new version (``ref="bike-dataset"``) or per
alias move (``ref="churn-model:production"``) since its cursor. The event payload is the
extra artiflow's own tasks put on their asset events (ref, version, digest, alias, registry),
so a DAG scheduled on the Asset pins the version that started it (trigger pinning).

The cursor starts at what the ref resolves to when the trigger starts (``since`` overrides
it: a version such as ``"v3"`` for a collection, an ISO time for an alias), so the versions
that existed before are not announced again. A triggerer restart starts a new cursor: moves
made while no triggerer ran are not announced.

Example:
    >>> from airflow.sdk import DAG, AssetWatcher
    >>> from artiflow.operators import ArtifactEventTrigger, alias_asset
    >>> production = alias_asset("churn-model", "production", watchers=[AssetWatcher(
    ...     name="churn-model-production",
    ...     trigger=ArtifactEventTrigger(ref="churn-model:production", poll_interval=10))])
    >>> # with DAG("deploy", schedule=[production]): ...
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from artiflow.refs import parse_ref

from ._registry import airflow_option, get_registry, registry_identity
from .assets import event_extra

__all__ = ["ArtifactEventTrigger", "changes_since", "initial_cursor"]


def _default_interval() -> float:
    try:
        return float(airflow_option("event_poll_interval", "30"))
    except ValueError:
        return 30.0


def _target(ref: str, registry: Any) -> tuple[str, str | None]:
    r = parse_ref(ref, default_project=registry.default_project)
    if r.version_index is not None:
        raise ValueError(
            f"ArtifactEventTrigger: {ref!r} names a fixed version, which never changes; "
            'watch the collection ("name") or an alias ("name:production")'
        )
    return f"{r.project}/{r.name}", None if r.is_latest else r.selector


def initial_cursor(registry: Any, ref: str) -> str | None:
    """The cursor of ``ref`` now: the newest version (``"v3"``) of a collection, the time of
    the newest move of an alias (ISO), or None when there is nothing yet.

    Example:
        >>> initial_cursor(registry, "churn-model:production")  # doctest: +SKIP
        '2026-12-03T07:40:00.123456+00:00'
    """
    from artiflow.exceptions import ArtifactNotFoundError

    collection, alias = _target(ref, registry)
    try:
        if alias is None:
            return str(registry.get(f"{collection}:latest").version)
        moves = registry.alias_history(collection, alias=alias, limit=1)
    except ArtifactNotFoundError:
        return None
    return moves[0]["at"].isoformat() if moves else None


def changes_since(
    registry: Any, ref: str, cursor: str | None, *, identity: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """``(payloads, new cursor)``: one event payload per version logged (collection) or per
    alias move (alias) after ``cursor``, oldest first. Removals of the alias are skipped.

    Example:
        >>> payloads, cursor = changes_since(registry, "churn-model:production", None)  # doctest: +SKIP
        >>> payloads[-1]["ref"]  # doctest: +SKIP
        'default/churn-model:v4'
    """
    from artiflow.exceptions import ArtifactNotFoundError

    collection, alias = _target(ref, registry)
    ident = identity or registry_identity()
    out: list[dict[str, Any]] = []
    try:
        if alias is None:
            after = int(cursor.lstrip("v")) if cursor else -1
            new = [v for v in registry.versions(collection) if v.index > after]
            new.sort(key=lambda v: v.index)
            for v in new:
                out.append({"kind": "version.created", **event_extra(v, registry=ident)})
                cursor = v.version
            return out, cursor
        since = datetime.fromisoformat(cursor) if cursor else None
        moves = registry.alias_history(collection, alias=alias, limit=None)
    except ArtifactNotFoundError:
        return [], cursor
    for move in reversed(moves):  # oldest first
        if since is not None and move["at"] <= since:
            continue
        cursor = move["at"].isoformat()
        if move["version"] is None:
            continue  # the alias was removed: nothing to run on
        v = registry.get(f"{collection}:{move['version']}")
        out.append(
            {
                "kind": "alias.moved",
                **event_extra(v, alias=alias, previous=move["previous"], registry=ident),
                "at": cursor,
            }
        )
    return out, cursor


class ArtifactEventTrigger(BaseEventTrigger):
    """Fires a :class:`TriggerEvent` each time ``ref`` changes in the registry (see the
    module docstring). ``artiflow_conn_id`` names the registry's Airflow connection.

    Example:
        >>> ArtifactEventTrigger(ref="ds", poll_interval=5).serialize()[0]
        'artiflow.operators.event_trigger.ArtifactEventTrigger'
    """

    def __init__(
        self,
        ref: str,
        poll_interval: float | None = None,
        artiflow_conn_id: str | None = None,
        since: str | None = None,
    ) -> None:
        super().__init__()
        r = parse_ref(ref)  # fail at parse time on a malformed ref
        if r.version_index is not None:
            raise ValueError(
                f"ArtifactEventTrigger: {ref!r} names a fixed version; watch the collection "
                "or an alias"
            )
        self.ref = ref
        self.poll_interval = float(
            poll_interval if poll_interval is not None else _default_interval()
        )
        if self.poll_interval <= 0:
            raise ValueError("ArtifactEventTrigger: poll_interval must be > 0 seconds")
        self.artiflow_conn_id = artiflow_conn_id
        self.since = since

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "ref": self.ref,
                "poll_interval": self.poll_interval,
                "artiflow_conn_id": self.artiflow_conn_id,
                "since": self.since,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        registry = await asyncio.to_thread(get_registry, self.artiflow_conn_id)
        ident = registry_identity(self.artiflow_conn_id)
        cursor = self.since
        if cursor is None:
            cursor = await asyncio.to_thread(initial_cursor, registry, self.ref)
        self.log.info("artiflow: watching %s from %s", self.ref, cursor or "the beginning")
        while True:
            payloads, cursor = await asyncio.to_thread(
                changes_since, registry, self.ref, cursor, identity=ident
            )
            for payload in payloads:
                self.log.info("artiflow: %s is now %s", self.ref, payload["ref"])
                yield TriggerEvent({"status": "success", "watched": self.ref, **payload})
            await asyncio.sleep(self.poll_interval)
