"""What an Airflow DAG run was started for: trigger pins (asset events) and replays (conf).

Two things in a DAG run's context decide versions for the whole run, before any task resolves
an input (the resolver of :mod:`artiflow._tasking` applies them, see ``TaskContext``):

* **Trigger pins.** A run started by artiflow asset events (``schedule=[artifact_asset(...)]``)
  has ``context["triggering_asset_events"]``: asset -> the events that queued the run. Each
  artiflow event's extra (:func:`~artiflow.operators.assets.event_extra`) names the version it
  announced, so the run is pinned ``{"project/name": "project/name:vN"}``. When Airflow merged
  several events of one collection into one run (they arrived before the run was created), the
  **newest** version wins, and every triggering version is kept in the run info
  (``info["triggered_by"]``). Events of another registry (another identity in the asset URI or
  the extra) and events that are not artiflow's are ignored.
* **Replay.** A run whose ``conf`` holds ``{"artiflow_lock": "<earlier dag run id>"}`` resolves
  every input from that earlier run's lock.

Example:
    >>> from types import SimpleNamespace as NS
    >>> asset = NS(uri="x-artiflow://prod/default/ds")
    >>> ev = lambda v: NS(asset=asset, extra={"ref": f"default/ds:{v}", "version": v})
    >>> trigger_pins({"ds": [ev("v1"), ev("v3")]}, registry="prod").pins
    {'default/ds': 'default/ds:v3'}
    >>> replay_source({"artiflow_lock": "manual__2026-01-01"})
    'manual__2026-01-01'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from artiflow._ops.replay import AIRFLOW_CONF_KEY  # the dag_run.conf key of a replay
from artiflow.exceptions import InvalidFieldError
from artiflow.identity import parse_airflow_asset_uri

__all__ = ["AIRFLOW_CONF_KEY", "MAX_RUN_ID", "Triggers", "replay_source", "trigger_pins"]

#: the longest DAG run id accepted in ``conf["artiflow_lock"]`` (Airflow's run_id column)
MAX_RUN_ID = 250

_VERSION = re.compile(r"^v(\d+)$")
_RUN_ID = re.compile(r"^[^\s\x00-\x1f\x7f]+$")


@dataclass(frozen=True)
class Triggers:
    """The artiflow versions that started a DAG run.

    ``pins`` maps ``"project/name"`` to the ref to pin (the newest triggering version of the
    collection); ``events`` lists every triggering version, oldest first per collection
    (JSON-ready, for the run info: collection, asset, ref, digest, alias, source DAG/run).
    """

    pins: dict[str, str] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)


def _index(extra: Mapping[str, Any]) -> int:
    m = _VERSION.match(str(extra.get("version") or ""))
    if m is None:
        ref = str(extra.get("ref") or "")
        m = _VERSION.match(ref.rsplit(":", 1)[-1]) if ":" in ref else None
    return int(m.group(1)) if m else -1


def _items(events: Any) -> Iterable[tuple[Any, Any]]:
    if events is None:
        return []
    if isinstance(events, Mapping):
        return list(events.items())
    try:  # the task SDK's accessor is a Mapping; anything else: (asset, events) pairs
        return [(k, events[k]) for k in events]
    except TypeError:
        return []


def trigger_pins(events: Any, *, registry: str | Callable[[], str]) -> Triggers:
    """Pins from ``context["triggering_asset_events"]`` for the registry with identity
    ``registry`` (see the module docstring); a callable is asked for the identity only when an
    artiflow asset event is there to compare (most runs have none).

    Example:
        >>> from types import SimpleNamespace as NS
        >>> other = NS(uri="x-artiflow://other/default/ds")
        >>> trigger_pins({"ds": [NS(asset=other, extra={"ref": "default/ds:v1"})]},
        ...              registry="prod").pins
        {}
    """
    seen: set[tuple[Any, ...]] = set()
    best: dict[str, tuple[int, str]] = {}
    found: list[dict[str, Any]] = []
    identity: list[str] = [registry] if isinstance(registry, str) else []
    for key, evs in _items(events):
        for ev in evs or ():
            asset = getattr(ev, "asset", None) or key
            uri = str(getattr(asset, "uri", "") or "")
            parts = parse_airflow_asset_uri(uri)
            extra = dict(getattr(ev, "extra", None) or {})
            if not extra.get("ref") and isinstance(extra.get("payload"), Mapping):
                # an AssetWatcher's event: {"from_trigger": True, "payload": <trigger event>}
                extra = dict(extra["payload"])
            if parts is None or not extra.get("ref"):
                continue  # not an artiflow asset, or an event without artiflow's extra
            if not identity:
                identity.append(registry())  # type: ignore[operator]
            if parts.registry not in (None, identity[0]):
                continue  # another registry's collection
            if extra.get("registry") not in (None, identity[0]):
                continue
            project = str(extra.get("project") or parts.project)
            name = str(extra.get("name") or parts.name)
            if (project, name) != (parts.project, parts.name):
                continue  # an extra that does not describe this asset
            ref = str(extra["ref"])
            source = (getattr(ev, "source_dag_id", None), getattr(ev, "source_run_id", None))
            mark = (uri, ref, *source, str(getattr(ev, "timestamp", "")))
            if mark in seen:
                continue  # the same event, listed under its asset and under an asset alias
            seen.add(mark)
            collection = f"{project}/{name}"
            idx = _index(extra)
            found.append(
                {
                    "collection": collection,
                    "index": idx,
                    "asset": uri,
                    "ref": ref,
                    "digest": extra.get("digest"),
                    "alias": extra.get("alias"),
                    "source_dag_id": source[0],
                    "source_run_id": source[1],
                }
            )
            if collection not in best or idx > best[collection][0]:
                best[collection] = (idx, ref)
    found.sort(key=lambda e: (e["collection"], e["index"], e["asset"]))
    for e in found:
        del e["index"]
    return Triggers({c: ref for c, (_, ref) in sorted(best.items())}, found)


def replay_source(conf: Mapping[str, Any] | None) -> str | None:
    """The earlier DAG run id a run replays (``conf["artiflow_lock"]``), or None.

    Raises :class:`~artiflow.exceptions.InvalidFieldError` when the value is not a DAG run id
    (a non-empty string of at most :data:`MAX_RUN_ID` characters, no spaces).

    Example:
        >>> replay_source({}) is None
        True
        >>> replay_source({"artiflow_lock": 3})
        Traceback (most recent call last):
        ...
        artiflow.exceptions.InvalidFieldError: conf['artiflow_lock'] must be the run id of an earlier run of this DAG (a string, e.g. "scheduled__2026-01-01T00:00:00+00:00"), got int 3
    """
    if not conf or AIRFLOW_CONF_KEY not in conf:
        return None
    value = conf[AIRFLOW_CONF_KEY]
    if value is None:
        return None
    hint = (
        f"conf[{AIRFLOW_CONF_KEY!r}] must be the run id of an earlier run of this DAG "
        '(a string, e.g. "scheduled__2026-01-01T00:00:00+00:00")'
    )
    if not isinstance(value, str):
        raise InvalidFieldError(
            f"{hint}, got {type(value).__name__} {value!r:.80}", field=AIRFLOW_CONF_KEY
        )
    if not value or len(value) > MAX_RUN_ID or not _RUN_ID.match(value):
        raise InvalidFieldError(
            f"{hint}: {value!r:.80} is empty, longer than {MAX_RUN_ID} characters or has "
            "spaces/control characters",
            field=AIRFLOW_CONF_KEY,
            limit=f"{MAX_RUN_ID} characters",
        )
    return value
