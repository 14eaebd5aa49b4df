"""``ArtifactEventTrigger``: start asset-scheduled DAGs when the registry changes, from anywhere.

A version logged or an alias moved by the CLI, a Prefect flow, a notebook or another machine
emits no Airflow asset event by itself. Put this trigger in an ``AssetWatcher`` on the artiflow
Asset of the collection (or of the alias): the triggerer polls the registry's catalog every
``poll_interval`` seconds and fires one event per new version (``ref="bike-dataset"``) or per
alias move (``ref="churn-model:production"``) since its cursor. The event payload is the
extra artiflow's own tasks put on their asset events (ref, version, digest, alias, registry),
so a DAG scheduled on the Asset pins the version that started it (trigger pinning).

The cursor starts at what the ref resolves to when the trigger first starts (``since``
overrides it: a version such as ``"v3"`` for a collection, an ISO time for an alias), so the
versions that existed before are not announced. It is durable: in the triggerer the trigger
runs in Airflow's ack mode (a shared stream whose producer is told which events Airflow has
stored), and the cursor of the last stored event is written to the state store (AIP-103) of
every asset the trigger watches, under :func:`cursor_key`. A triggerer restart, a crash or a
re-created trigger (an edited ``poll_interval``) resumes after it: versions logged and aliases
moved while no triggerer ran are announced then, and nothing Airflow stored is announced again.
An event Airflow did not confirm is announced again (at least once: a crash in the second
between Airflow storing an event and the cursor write repeats that one event). Editing
``since`` restarts from the new ``since``; deleting the key (REST API: ``DELETE
/api/v2/assets/{asset_id}/state-store/{key}``) restarts from "now".

``kinds`` chooses what fires: ``"version.created"`` (a collection) / ``"alias.moved"`` (an
alias), the default, and ``"version.quarantined"`` / ``"version.released"``: a quarantine put
on (or released from) the watched collection's versions, or on a version upstream of them
(they are tainted), or, for an alias, on the version the alias points at. The payload then
carries ``root`` (the quarantined version), ``reason``, ``by`` and ``affected`` (the watched
versions it taints), so a DAG scheduled on the Asset can rebuild or page someone. One event per
quarantine root and collection (not per version), like the registry's own events.

``"alias.overdue"`` (opt-in, :data:`FRESHNESS_KINDS`): the watched alias (``latest`` for a
collection ref) became older than its maximum age (``registry.set_max_age(name, alias,
"1d")``): the version it points at was committed longer ago than that. The trigger checks at
every poll, so no ``artiflow status --emit`` schedule is needed; it fires once each time the
alias turns overdue (again after it moved to a fresh version and that one aged too), with the
payload of the registry's own ``alias.overdue`` event (ref, version, alias, ``age_s``,
``max_age_s``, ``committed_at``). An alias already overdue when the trigger first starts is the
baseline, like the quarantines then active.

Example (a DAG that reacts to bad data upstream of ``bike-model``):
    >>> from artiflow.operators import ArtifactEventTrigger, artifact_asset
    >>> trigger = ArtifactEventTrigger(ref="bike-model", kinds=["version.quarantined"])
    >>> trigger.kinds
    ('version.quarantined',)

Example (a DAG that refreshes ``bike-dataset:production`` once it is a day old):
    >>> trigger = ArtifactEventTrigger(ref="bike-dataset:production", kinds=["alias.overdue"])
    >>> trigger.kinds
    ('alias.overdue',)

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
from collections.abc import AsyncGenerator, AsyncIterator, Hashable, Sequence
from datetime import datetime
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent
from airflow.triggers.shared_stream import AdvanceItem, SharedStreamProducer

from artiflow.refs import parse_ref

from ._registry import airflow_option, get_registry, registry_identity
from .assets import event_extra

__all__ = [
    "CHANGE_KINDS",
    "CURSOR_KEY_PREFIX",
    "FRESHNESS_KINDS",
    "QUARANTINE_KINDS",
    "ArtifactEventProducer",
    "ArtifactEventTrigger",
    "changes_since",
    "cursor_key",
    "initial_cursor",
    "overdue_state",
    "quarantine_changes",
    "quarantine_state",
]

#: what the trigger announces by default (a new version / an alias move)
CHANGE_KINDS = ("version.created", "alias.moved")
#: a quarantine put on, or released from, the watched versions or a version upstream of them
QUARANTINE_KINDS = ("version.quarantined", "version.released")
#: the watched alias turned older than its maximum age (opt-in: name it in ``kinds``)
FRESHNESS_KINDS = ("alias.overdue",)
_KINDS = (*CHANGE_KINDS, *QUARANTINE_KINDS, *FRESHNESS_KINDS)


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


def _watched(registry: Any, ref: str) -> list[Any]:
    collection, alias = _target(ref, registry)
    from artiflow.exceptions import ArtifactNotFoundError

    try:
        if alias is None:
            return list(registry.versions(collection))
        return [registry.get(f"{collection}:{alias}", allow_quarantined=True)]
    except ArtifactNotFoundError:
        return []


def quarantine_state(registry: Any, ref: str) -> dict[str, dict[str, Any]]:
    """The active quarantines that reach the versions ``ref`` watches, by quarantined root:
    ``{root ref: {"reason", "by", "at", "affected": [watched refs]}}`` (a version's own
    quarantine or the nearest one upstream of it).

    Example:
        >>> quarantine_state(registry, "bike-model")  # doctest: +SKIP
        {'default/bike-dataset:v3': {'reason': 'zeros', 'by': 'ana', 'at': '...', 'affected': [...]}}
    """
    state: dict[str, dict[str, Any]] = {}
    for v in _watched(registry, ref):
        record = v.quarantined or v.tainted_by
        if record is None:
            continue
        entry = state.setdefault(
            record.ref,
            {"reason": record.reason, "by": record.by, "at": record.at.isoformat(), "affected": []},
        )
        entry["affected"].append(v.ref)
    return state


def quarantine_changes(
    registry: Any,
    ref: str,
    state: dict[str, dict[str, Any]],
    *,
    identity: str | None = None,
    kinds: tuple[str, ...] = QUARANTINE_KINDS,
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """``(payloads, new state)``: one ``version.quarantined`` payload per quarantine root that
    reaches ``ref``'s versions now but did not in ``state``, one ``version.released`` per root
    that no longer does (it was released). Only ``kinds`` are returned.

    Example:
        >>> payloads, state = quarantine_changes(registry, "bike-model", {})  # doctest: +SKIP
        >>> payloads[0]["kind"], payloads[0]["root"]  # doctest: +SKIP
        ('version.quarantined', 'default/bike-dataset:v3')
    """
    collection, _alias = _target(ref, registry)
    ident = identity or registry_identity()
    project, name = collection.split("/", 1)
    new = quarantine_state(registry, ref)
    out: list[dict[str, Any]] = []

    def payload(kind: str, root: str, entry: dict[str, Any]) -> dict[str, Any]:
        first = entry["affected"][0] if entry["affected"] else None
        return {
            "kind": kind,
            "ref": first,
            "project": project,
            "name": name,
            "root": root,
            "reason": entry["reason"],
            "by": entry["by"],
            "quarantined_at": entry["at"],
            "affected": list(entry["affected"]),
            "registry": ident,
        }

    for root, entry in new.items():
        old = state.get(root)
        if (old is None or old["at"] != entry["at"]) and "version.quarantined" in kinds:
            out.append(payload("version.quarantined", root, entry))
    for root, entry in state.items():
        if (root not in new or new[root]["at"] != entry["at"]) and "version.released" in kinds:
            out.append(payload("version.released", root, entry))
    return out, new


def overdue_state(registry: Any, ref: str, *, identity: str | None = None) -> dict[str, Any] | None:
    """The ``alias.overdue`` payload of the alias ``ref`` watches (``latest`` for a
    collection) when it is older than its maximum age now, else None (fresh, or no maximum age).

    Example:
        >>> overdue_state(registry, "bike-dataset:production")["max_age_s"]  # doctest: +SKIP
        86400
    """
    from artiflow.exceptions import ArtifactNotFoundError

    collection, alias = _target(ref, registry)
    wanted = f"{collection}:{alias or 'latest'}"
    late = next((o for o in registry.overdue() if o.alias_ref == wanted), None)
    if late is None:
        return None
    try:
        v = registry.get(late.version, allow_quarantined=True)
    except ArtifactNotFoundError:
        return None
    facts = late.to_dict()  # what the registry's own alias.overdue event carries
    return {
        "kind": "alias.overdue",
        **event_extra(v, alias=alias or "latest", registry=identity or registry_identity()),
        **{k: facts[k] for k in ("age_s", "max_age_s", "committed_at")},
    }


#: the asset-state-store key prefix of a trigger's durable cursor
CURSOR_KEY_PREFIX = "artiflow.cursor:"
_RECORD_FORMAT = 1


def cursor_key(ref: str, artiflow_conn_id: str | None, kinds: Sequence[str]) -> str:
    """The asset-state-store key of the cursor of a trigger: what it watches (ref, connection,
    kinds), not how often it polls, so editing ``poll_interval`` keeps the cursor.

    Example:
        >>> cursor_key("churn-model:production", None, ["alias.moved"])
        'artiflow.cursor:churn-model:production|alias.moved'
    """
    conn = f"@{artiflow_conn_id}" if artiflow_conn_id else ""
    return f"{CURSOR_KEY_PREFIX}{ref}{conn}|{','.join(sorted(kinds))}"


def _now_iso() -> str:
    from datetime import timezone

    return datetime.now(timezone.utc).isoformat()


class _CursorStore:
    """Where a trigger's cursor lives between triggerer runs: the Airflow asset state store
    (AIP-103) of every asset the trigger watches, under :func:`cursor_key`. The triggerer
    injects the accessors into the trigger (``trigger.asset_state_store``); the record written
    to each watched asset is ``{"format", "since", "cursor", "quarantines", "overdue",
    "saved_at"}`` (``overdue``: the version ref last announced overdue, None while fresh)."""

    def __init__(self, accessors: Any, key: str) -> None:
        # one accessor per watched asset; the mapping has no public iteration, so read its two
        # dicts and fall back to its single-asset form (which is public) when they are absent
        found = [
            *getattr(accessors, "_by_name", {}).values(),
            *getattr(accessors, "_by_uri", {}).values(),
        ]
        self.accessors = found or [accessors]
        self.key = key

    async def load(self, since: str | None) -> dict[str, Any] | None:
        """The newest record among the watched assets, or None (never saved, or saved for
        another ``since``: an edited ``since`` is a deliberate restart from it)."""
        records = []
        for accessor in self.accessors:
            value = await _aget(accessor, self.key)
            if isinstance(value, dict) and value.get("format") == _RECORD_FORMAT:
                records.append(value)
        records = [r for r in records if r.get("since") == since]
        return max(records, key=lambda r: str(r.get("saved_at"))) if records else None

    async def save(self, record: dict[str, Any]) -> None:
        value = {**record, "format": _RECORD_FORMAT, "saved_at": _now_iso()}
        for accessor in self.accessors:
            await _aset(accessor, self.key, value)


async def _aget(accessor: Any, key: str) -> Any:
    if hasattr(accessor, "aget"):  # task SDK >= 1.3.1
        return await accessor.aget(key)
    # task SDK 1.3.0 (Airflow 3.3.0): the sync call, from a thread (the triggerer's comms
    # hand it to the event loop; called on the loop itself it would need greenback)
    return await asyncio.to_thread(accessor.get, key)


async def _aset(accessor: Any, key: str, value: Any) -> None:
    if hasattr(accessor, "aset"):
        await accessor.aset(key, value)
    else:
        await asyncio.to_thread(accessor.set, key, value)


#: shared-stream key -> the cursor store of the trigger the triggerer started with that key
#: (filled by ``shared_stream_key()``, read by ``create_shared_stream_producer()``: the
#: producer is built from the serialized kwargs only, in the same runner process)
_STORES: dict[Hashable, _CursorStore] = {}


class _NotPersisted(RuntimeError):
    """An event was not confirmed stored by Airflow: the stream restarts from the cursor of
    the last event that was (the trigger is started again by the triggerer)."""


def _stream_key(kwargs: dict[str, Any]) -> tuple[str, ...]:
    return (
        "artiflow",
        str(kwargs["ref"]),
        str(kwargs.get("artiflow_conn_id") or ""),
        ",".join(kwargs.get("kinds") or CHANGE_KINDS),
        str(kwargs.get("since") or ""),
        str(kwargs.get("poll_interval") or ""),
    )


class ArtifactEventProducer(SharedStreamProducer):
    """The polling half of :class:`ArtifactEventTrigger` in the triggerer (Airflow's ack mode):
    polls the registry from the durable cursor and yields ``(payload, record after it)``;
    :meth:`advance` saves the record of the last event Airflow confirmed it stored, the way a
    Kafka offset is committed. A restart (or a re-created trigger) resumes from it."""

    def __init__(self, kwargs: dict[str, Any], store: _CursorStore | None) -> None:
        self.trigger = ArtifactEventTrigger(**kwargs)
        self.store = store
        self._broken: str | None = None

    async def open_stream(self) -> AsyncGenerator[tuple[Any, Any], None]:
        t = self.trigger
        registry = await asyncio.to_thread(get_registry, t.artiflow_conn_id)
        ident = registry_identity(t.artiflow_conn_id)
        changes = any(k in CHANGE_KINDS for k in t.kinds)
        quarantines = tuple(k for k in t.kinds if k in QUARANTINE_KINDS)
        freshness = any(k in FRESHNESS_KINDS for k in t.kinds)
        record = await self.store.load(t.since) if self.store is not None else None
        if record is not None:
            t.log.info("artiflow: watching %s, resuming after %s", t.ref, record.get("cursor"))
        else:
            record = {"since": t.since, "cursor": t.since, "quarantines": {}, "overdue": None}
            if t.since is None and changes:
                record["cursor"] = await asyncio.to_thread(initial_cursor, registry, t.ref)
            if quarantines:  # quarantines active at the first start are the baseline
                record["quarantines"] = await asyncio.to_thread(quarantine_state, registry, t.ref)
            if freshness:  # so is an alias already overdue then
                late = await asyncio.to_thread(overdue_state, registry, t.ref, identity=ident)
                record["overdue"] = late["ref"] if late else None
            if self.store is not None:  # a restart before the first event keeps this baseline
                await self.store.save(record)
            t.log.info("artiflow: watching %s from %s", t.ref, record["cursor"] or "the start")
        position: dict[str, Any] = {
            "since": record.get("since"),
            "cursor": record.get("cursor"),
            "quarantines": dict(record.get("quarantines") or {}),
            "overdue": record.get("overdue"),
        }
        while True:
            if self._broken:
                raise _NotPersisted(self._broken)
            if changes:
                payloads, cursor = await asyncio.to_thread(
                    changes_since, registry, t.ref, position["cursor"], identity=ident
                )
                for payload in payloads:
                    alias_move = payload["kind"] == "alias.moved"
                    position["cursor"] = payload["at"] if alias_move else payload["version"]
                    yield payload, _copy(position)
                # trailing alias removals move the cursor without an event: kept in memory only
                position["cursor"] = cursor
            if quarantines:
                found, _state = await asyncio.to_thread(
                    quarantine_changes,
                    registry,
                    t.ref,
                    position["quarantines"],
                    identity=ident,
                    kinds=QUARANTINE_KINDS,
                )
                # releases first, so a re-quarantined root (new time) is released, then put on
                state: dict[str, dict[str, Any]] = position["quarantines"]
                for payload in sorted(found, key=lambda p: p["kind"] != "version.released"):
                    if payload["kind"] == "version.released":
                        state.pop(payload["root"], None)
                    else:
                        state[payload["root"]] = {
                            "reason": payload["reason"],
                            "by": payload["by"],
                            "at": payload["quarantined_at"],
                            "affected": list(payload["affected"]),
                        }
                    if payload["kind"] in t.kinds:
                        yield payload, _copy(position)
            if freshness:
                late = await asyncio.to_thread(overdue_state, registry, t.ref, identity=ident)
                now_late = late["ref"] if late else None
                if now_late != position["overdue"]:
                    position["overdue"] = now_late
                    if late is not None:  # it turned overdue (fresh again: no event)
                        yield late, _copy(position)
            await asyncio.sleep(t.poll_interval)

    async def advance(self, batch: Sequence[AdvanceItem]) -> None:
        last: dict[str, Any] | None = None
        for item in batch:
            if not item.outcome.is_clean:  # not stored by Airflow: never move past it
                self._broken = (
                    f"artiflow: an event of {self.trigger.ref} was not confirmed stored by "
                    f"Airflow ({item.outcome}); restarting from the last one that was"
                )
                break
            last = item.broker_payload
        if last is not None and self.store is not None:
            await self.store.save(last)


def _copy(position: dict[str, Any]) -> dict[str, Any]:
    return {**position, "quarantines": {k: dict(v) for k, v in position["quarantines"].items()}}


class ArtifactEventTrigger(BaseEventTrigger):
    """Fires a :class:`TriggerEvent` each time ``ref`` changes in the registry (see the
    module docstring). ``artiflow_conn_id`` names the registry's Airflow connection.

    In the triggerer it runs in Airflow's ack mode (a shared stream with a producer): the
    cursor of the last event Airflow confirmed it stored is kept in the watched assets' state
    store, so a triggerer restart or a re-created trigger resumes after it. :meth:`run` (a
    trigger driven by hand) polls the same way and keeps no durable cursor unless the
    triggerer injected ``asset_state_store``.

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
        kinds: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        chosen = tuple(kinds) if kinds is not None else CHANGE_KINDS
        unknown = sorted(set(chosen) - set(_KINDS))
        if unknown or not chosen:
            raise ValueError(
                f"ArtifactEventTrigger: unknown kinds {unknown or list(chosen)}; choose from "
                f"{list(_KINDS)}"
            )
        self.kinds = chosen
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
                "kinds": list(self.kinds),
            },
        )

    @property
    def cursor_key(self) -> str:
        """The key of this trigger's cursor in the watched assets' state store."""
        return cursor_key(self.ref, self.artiflow_conn_id, self.kinds)

    def _store(self) -> _CursorStore | None:
        accessors = getattr(self, "asset_state_store", None)
        return _CursorStore(accessors, self.cursor_key) if accessors is not None else None

    # ---- the triggerer's path: ack mode -------------------------------------------------
    def shared_stream_key(self) -> Hashable | None:
        key = _stream_key(self.serialize()[1])
        store = self._store()
        if store is not None:
            _STORES[key] = store
        return key

    @classmethod
    def create_shared_stream_producer(cls, kwargs: dict[str, Any]) -> SharedStreamProducer:
        return ArtifactEventProducer(kwargs, _STORES.get(_stream_key(kwargs)))

    async def filter_shared_stream(
        self, shared_stream: AsyncIterator[Any]
    ) -> AsyncIterator[TriggerEvent]:
        async for payload in shared_stream:
            yield self._event(payload)

    def _event(self, payload: dict[str, Any]) -> TriggerEvent:
        if payload["kind"] in CHANGE_KINDS:
            self.log.info("artiflow: %s is now %s", self.ref, payload["ref"])
        elif payload["kind"] in FRESHNESS_KINDS:
            self.log.info("artiflow: %s is overdue (%s)", self.ref, payload["ref"])
        else:
            self.log.info("artiflow: %s: %s %s", self.ref, payload["kind"], payload["root"])
        return TriggerEvent({"status": "success", "watched": self.ref, **payload})

    # ---- driven by hand (tests, a custom runner) ------------------------------------------
    async def run(self) -> AsyncIterator[TriggerEvent]:
        producer = ArtifactEventProducer(self.serialize()[1], self._store())
        producer.trigger = self  # log through this trigger
        stream = producer.open_stream()
        try:
            async for payload, record in stream:
                yield self._event(payload)
                if producer.store is not None:  # best effort: no confirmation outside ack mode
                    await producer.store.save(record)
        finally:
            await stream.aclose()
