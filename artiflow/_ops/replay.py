"""Start a replay of an earlier pipeline run: every input resolves from that run's lock.

* **Airflow**: a new DAG run whose ``conf`` is ``{"artiflow_lock": "<earlier dag run id>"}``
  (:data:`AIRFLOW_CONF_KEY`; the Airflow adapter reads it into ``TaskContext.replay_of``). With
  ``ARTIFLOW_AIRFLOW_API_URL`` (or Airflow's own ``AIRFLOW__API__BASE_URL``) set, the run is
  posted to the Airflow 3 REST API (``POST /api/v2/dags/{dag_id}/dagRuns``; authenticated by
  ``ARTIFLOW_AIRFLOW_TOKEN``, or ``ARTIFLOW_AIRFLOW_USERNAME`` / ``ARTIFLOW_AIRFLOW_PASSWORD``
  exchanged at ``POST /auth/token``); otherwise the exact ``airflow dags trigger`` command is
  returned.
* **Prefect**: ``artiflow.prefect.replay(flow_run_id)`` starts the flow run through its
  deployment; here the exact command is returned (the core never imports Prefect). With
  replaced inputs and ``PREFECT_API_URL`` set, the flow run is read from the Prefect REST API
  (``GET /flow_runs/{id}``, ``GET /deployments/{id}``; ``PREFECT_API_KEY`` authenticates) and
  the command is ``prefect deployment run 'FLOW/DEPLOYMENT'`` with the deployment the flow run
  came from and its parameters; a flow run that came from no deployment gets a command that
  asks for one (``${DEPLOYMENT:?...}``); without the API, the Python call that finds the
  deployment when it runs (``artiflow.prefect.replay(id, lock=...)``).

After the replay's tasks commit, each output's digest is compared with the original run's
output of the same collection (``RunLock.replays``, ``reproduced`` yes/no).

**Replacing inputs** (``inputs={"raw": "raw:v5"}``, ``artiflow replay RUN --input raw=raw:v5``):
the rebuild after a quarantine. The replay then reads a *derived lock*, ``<run>~r<hash>`` (made
once per run and replacement, recorded as a replay of the original): the original's lock with
every ref of a replaced collection pinned to the replacement (which must be clean), and every
other entry that is quarantined or tainted now left out, so it resolves anew (to what an
earlier rebuild step produced). The orchestrator starts the replay of that derived run id, so
the resolver applies the replacement exactly where it applied the original pin; its outputs
are compared with the derived lock's (none: ``reproduced`` is no, as expected with new inputs).

Example:
    >>> import tempfile
    >>> from artiflow import Artifact, Registry
    >>> from artiflow._tasking import TaskContext, TaskExecution
    >>> reg = Registry(home=tempfile.mkdtemp())
    >>> draft = Artifact("ds")
    >>> with draft.new_file("a.txt") as f:
    ...     _ = f.write("a")
    >>> _ = reg.log(draft)
    >>> ctx = TaskContext("airflow", "retrain", "manual__1", "train")
    >>> with TaskExecution(ctx, inputs={"ds": "ds"}, outputs={}, registry=reg) as ex:
    ...     ex.open()
    >>> print(start_replay(reg, "airflow", "manual__1", env={}).command)
    airflow dags trigger retrain --conf '{"artiflow_lock": "manual__1"}'
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..exceptions import ArtiflowError, InvalidRefError, RunLockError
from ..refs import parse_ref
from .locks import lock_catalog, lock_version, run_lock
from .quarantine import QuarantinedError, root_of

if TYPE_CHECKING:
    from ..registry import Registry

__all__ = [
    "AIRFLOW_API_ENV",
    "AIRFLOW_CONF_KEY",
    "PREFECT_API_ENV",
    "ReplayStart",
    "airflow_command",
    "override_lock",
    "parse_inputs",
    "prefect_command",
    "prefect_deployment",
    "prefect_override_command",
    "start_replay",
]

#: the DAG run ``conf`` key naming the earlier DAG run to replay
AIRFLOW_CONF_KEY = "artiflow_lock"
#: where the Airflow REST API is (the first one set wins)
AIRFLOW_API_ENV = ("ARTIFLOW_AIRFLOW_API_URL", "AIRFLOW__API__BASE_URL")
#: where the Prefect REST API is (and its key, for Prefect Cloud)
PREFECT_API_ENV = ("PREFECT_API_URL", "PREFECT_API_KEY")
_TIMEOUT = 30.0


@dataclass(frozen=True)
class ReplayStart:
    """What :func:`start_replay` did: ``started`` (a run was created, ``new_run`` is its id)
    or not (``command`` is what to run)."""

    orchestrator: str
    pipeline: str | None
    replay_of: str
    started: bool
    command: str
    new_run: str | None = None
    url: str | None = None
    response: Mapping[str, Any] = field(default_factory=dict)
    lock: str | None = None  # the derived lock the replay reads (with replaced inputs)
    replace: Mapping[str, str] = field(default_factory=dict)  # collection -> version ref
    deployment: str | None = None  # Prefect: "FLOW/DEPLOYMENT" the flow run came from

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (what ``artiflow replay --json`` prints)."""
        return {
            "orchestrator": self.orchestrator,
            "pipeline": self.pipeline,
            "replay_of": self.replay_of,
            "started": self.started,
            "command": self.command,
            "new_run": self.new_run,
            "url": self.url,
            "response": dict(self.response),
            "lock": self.lock,
            "replace": dict(self.replace),
            "deployment": self.deployment,
        }


def airflow_command(dag_id: str, pipeline_run: str) -> str:
    """The ``airflow dags trigger`` command that replays ``pipeline_run`` of ``dag_id``.

    Example:
        >>> print(airflow_command("retrain", "scheduled__2026-12-01T00:00:00+00:00"))
        airflow dags trigger retrain --conf '{"artiflow_lock": "scheduled__2026-12-01T00:00:00+00:00"}'
    """
    conf = json.dumps({AIRFLOW_CONF_KEY: pipeline_run})
    return f"airflow dags trigger {shlex.quote(dag_id)} --conf {shlex.quote(conf)}"


def prefect_command(flow_run_id: str, lock: str | None = None) -> str:
    """The Python call that replays a Prefect flow run (through its deployment, found when it
    runs); with ``lock``, reading that derived lock instead of the run's own.

    Example:
        >>> print(prefect_command("0b5e..."))
        python -c 'import artiflow.prefect; artiflow.prefect.replay("0b5e...")'
        >>> print(prefect_command("0b5e", "0b5e~r1a2b"))
        python -c 'import artiflow.prefect; artiflow.prefect.replay("0b5e", lock="0b5e~r1a2b")'
    """
    more = f", lock={json.dumps(lock)}" if lock else ""
    call = f"import artiflow.prefect; artiflow.prefect.replay({json.dumps(flow_run_id)}{more})"
    return f"python -c {shlex.quote(call)}"


def _dquote(text: str) -> str:
    """``text`` inside double quotes for a POSIX shell (``$`` `` ` `` ``"`` ``\\`` escaped)."""
    return '"' + "".join("\\" + c if c in '$`"\\' else c for c in text) + '"'


def prefect_override_command(
    flow: str | None,
    lock: str,
    deployment: str | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> str:
    """The ``prefect deployment run`` command that replays the derived lock ``lock``, with the
    flow run's ``parameters`` (its ``artiflow`` one replaced). ``deployment`` is the
    deployment's name; without it the command asks for one when it runs (the flow run came
    from no deployment: deploy the flow first).

    Example:
        >>> print(prefect_override_command("retrain", "0b5e~r1a2b", "nightly"))
        prefect deployment run retrain/nightly --params '{"artiflow": {"replay_of": "0b5e~r1a2b", "flow": "retrain"}}'
        >>> print(prefect_override_command("retrain", "0b5e~r1a2b").split(" --params")[0])
        prefect deployment run "retrain/${DEPLOYMENT:?set DEPLOYMENT to the name of a deployment of flow retrain (the flow run came from none: deploy the flow first)}"
    """
    params = json.dumps(
        {**dict(parameters or {}), "artiflow": {"replay_of": lock, "flow": flow}},
        sort_keys=False,
    )
    if deployment:
        name = shlex.quote(f"{flow}/{deployment}")
    else:
        ask = (
            f"set DEPLOYMENT to the name of a deployment of flow {flow} (the flow run came "
            "from none: deploy the flow first)"
        )
        name = _dquote(f"{flow}/").rstrip('"') + "${DEPLOYMENT:?" + _dquote(ask)[1:-1] + '}"'
    return f"prefect deployment run {name} --params {shlex.quote(params)}"


def _get(url: str, key: str | None) -> dict[str, Any] | None:
    """GET a JSON object from the Prefect API (None: not found)."""
    headers = {"Accept": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    req = urllib.request.Request(url, headers=headers, method="GET")
    try:
        with urllib.request.urlopen(req, timeout=_TIMEOUT) as resp:
            out = json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise
    return out if isinstance(out, dict) else None


def prefect_deployment(
    flow_run_id: str, env: Mapping[str, str]
) -> tuple[bool, str | None, dict[str, Any]]:
    """What the Prefect API (``PREFECT_API_URL``) says of a flow run: ``(known, deployment
    name or None, its parameters)``; ``known`` is False when the API is not set or did not
    answer (then nothing is known).

    Example:
        >>> prefect_deployment("0b5e", env={})
        (False, None, {})
    """
    base = (env.get(PREFECT_API_ENV[0]) or "").strip().rstrip("/")
    if not base:
        return False, None, {}
    key = env.get(PREFECT_API_ENV[1]) or None
    try:
        run = _get(f"{base}/flow_runs/{urllib.parse.quote(str(flow_run_id), safe='')}", key)
        if run is None:
            return False, None, {}
        params = run.get("parameters") if isinstance(run.get("parameters"), dict) else {}
        dep_id = run.get("deployment_id")
        if not dep_id:
            return True, None, dict(params or {})
        dep = _get(f"{base}/deployments/{urllib.parse.quote(str(dep_id), safe='')}", key)
    except (urllib.error.URLError, OSError, ValueError):
        return False, None, {}
    name = dep.get("name") if dep else None
    return (True, str(name), dict(params or {})) if name else (False, None, {})


def parse_inputs(items: Any) -> dict[str, str]:
    """``["raw=raw:v5", ...]`` (or a mapping) as ``{"raw": "raw:v5"}``; a malformed item raises
    :class:`~artiflow.InvalidRefError`.

    Example:
        >>> parse_inputs(["raw=raw:v5"])
        {'raw': 'raw:v5'}
    """
    if isinstance(items, Mapping):
        return {str(k): str(v) for k, v in items.items()}
    out: dict[str, str] = {}
    for item in items or ():
        name, sep, ref = str(item).partition("=")
        if not sep or not name.strip() or not ref.strip():
            raise InvalidRefError(f"invalid --input {item!r}: give COLLECTION=REF, e.g. raw=raw:v5")
        out[name.strip()] = ref.strip()
    return out


def _collection(registry: Registry, ref: str) -> str:
    r = parse_ref(ref, registry.default_project)
    return f"{r.project}/{r.name}"


def override_lock(
    registry: Registry,
    orchestrator: str,
    pipeline_run: str,
    inputs: Mapping[str, str] | Any,
    *,
    pipeline: str | None = None,
) -> tuple[str, dict[str, str]]:
    """Make the derived lock of ``pipeline_run`` with ``inputs`` replaced (see the module
    docstring); returns ``(derived run id, {collection: version ref})``.

    Raises :class:`~artiflow.QuarantinedError` when a replacement is quarantined or tainted
    (run the earlier rebuild steps first), :class:`~artiflow.RunLockError` when the run never
    resolved a replaced collection.

    Example:
        >>> # override_lock(reg, "airflow", "manual__1", {"raw": "raw:v5"})
    """
    lock = run_lock(registry, orchestrator, str(pipeline_run), pipeline=pipeline)
    wanted = {}
    for name, ref in parse_inputs(inputs).items():
        version = registry.get(ref, allow_quarantined=True)
        bad = root_of(registry, version.id)  # never rebuild on a bad version
        if bad is not None:
            raise QuarantinedError(
                f"cannot replay {lock.pipeline_run} with {name}={ref}: {version.ref} "
                + ("is quarantined" if bad.ref == version.ref else f"was built from {bad.ref}")
                + f" ({bad.reason!r}); name a clean version, or run the earlier steps of the "
                "rebuild plan first (they make the clean one)",
                ref=version.ref,
                root=bad.ref,
                reason=bad.reason,
            )
        wanted[_collection(registry, name)] = version
    held = {_collection(registry, e.ref) for e in lock.entries}
    missing = sorted(set(wanted) - held)
    if missing:
        raise RunLockError(
            f"{orchestrator} run {lock.pipeline_run!r} never resolved {', '.join(missing)}: "
            "nothing to replace; its lock holds "
            + (", ".join(sorted(e.ref for e in lock.entries)) or "nothing")
        )
    replace = {c: v.ref for c, v in sorted(wanted.items())}
    key = json.dumps([orchestrator, lock.pipeline, lock.pipeline_run, sorted(replace.items())])
    derived = f"{lock.pipeline_run}~r{hashlib.sha256(key.encode()).hexdigest()[:12]}"
    cat = lock_catalog(registry)
    original = next(
        (row for row in cat.find(orchestrator, lock.pipeline_run, lock.pipeline or "")), None
    )
    cat.ensure(
        orchestrator,
        lock.pipeline,
        derived,
        replay_of=original.id if original is not None else None,
    )
    for e in lock.entries:
        coll = _collection(registry, e.ref)
        if coll in wanted:
            version = wanted[coll]
        else:
            version = registry.get(e.version_ref, allow_quarantined=True)
            if root_of(registry, version.id) is not None:
                continue  # bad now: resolve it anew in the replay
        lock_version(
            registry, orchestrator, lock.pipeline, derived, e.ref, version, e.task or "replay"
        )
    return derived, replace


def _api_url(env: Mapping[str, str]) -> str | None:
    for key in AIRFLOW_API_ENV:
        value = (env.get(key) or "").strip()
        if value:
            return value.rstrip("/")
    return None


def _post(url: str, body: Mapping[str, Any], token: str | None) -> dict[str, Any]:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=_TIMEOUT) as resp:
            raw = resp.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:500]
        raise ArtiflowError(
            f"the Airflow API refused POST {url}: HTTP {exc.code} {detail}; check the API URL "
            "and credentials (ARTIFLOW_AIRFLOW_TOKEN or ARTIFLOW_AIRFLOW_USERNAME/PASSWORD)"
        ) from exc
    except (urllib.error.URLError, OSError) as exc:
        raise ArtiflowError(
            f"the Airflow API at {url} is unreachable ({exc}); start it, fix "
            f"{' / '.join(AIRFLOW_API_ENV)}, or unset them to get the command to run"
        ) from exc
    try:
        out = json.loads(raw or b"{}")
    except ValueError:
        out = {}
    return out if isinstance(out, dict) else {"body": out}


def _token(base: str, env: Mapping[str, str]) -> str | None:
    token = env.get("ARTIFLOW_AIRFLOW_TOKEN")
    if token:
        return token
    user, password = env.get("ARTIFLOW_AIRFLOW_USERNAME"), env.get("ARTIFLOW_AIRFLOW_PASSWORD")
    if not (user and password):
        return None
    got = _post(f"{base}/auth/token", {"username": user, "password": password}, None)
    return str(got.get("access_token") or "") or None


def start_replay(
    registry: Registry,
    orchestrator: str,
    pipeline_run: str,
    *,
    pipeline: str | None = None,
    env: Mapping[str, str] | None = None,
    inputs: Mapping[str, str] | None = None,
) -> ReplayStart:
    """Replay ``pipeline_run``: start it where the orchestrator is reachable, else return the
    exact command (``ReplayStart.command`` either way). ``inputs`` ``{collection: ref}``
    replaces those inputs (see :func:`override_lock`).

    ``env`` defaults to ``os.environ`` (see the module docstring for the variables).

    Example:
        >>> # start_replay(reg, "airflow", "manual__2026-12-03T06:00:00+00:00").command
    """
    env = os.environ if env is None else env
    run = str(pipeline_run)
    lock = run_lock(registry, orchestrator, run, pipeline=pipeline)
    name = pipeline or lock.pipeline
    derived: str | None = None
    replace: dict[str, str] = {}
    if inputs and orchestrator in ("airflow", "prefect"):
        derived, replace = override_lock(registry, orchestrator, run, inputs, pipeline=pipeline)
    if orchestrator == "prefect":
        if derived is None:
            return ReplayStart(orchestrator, name, run, False, prefect_command(run))
        known, deployment, params = prefect_deployment(run, env)
        if known:  # the deployment it came from (or none), and its parameters
            params.pop("artiflow", None)
            cmd = prefect_override_command(name, derived, deployment, params)
        else:  # the API is not reachable from here: the call finds the deployment itself
            cmd = prefect_command(run, derived)
        return ReplayStart(
            orchestrator,
            name,
            run,
            False,
            cmd,
            lock=derived,
            replace=replace,
            deployment=f"{name}/{deployment}" if deployment else None,
        )
    if orchestrator != "airflow":
        raise RunLockError(
            f"{orchestrator} runs cannot be replayed by artiflow: replay airflow or prefect "
            "runs (a manual run replays by passing TaskContext(replay_of=...) to its tasks)"
        )
    if not name:
        raise RunLockError(f"airflow run {run!r} has no DAG id in the registry: give --pipeline")
    source = derived or run
    command = airflow_command(name, source)
    base = _api_url(env)
    if base is None:
        return ReplayStart(orchestrator, name, run, False, command, lock=derived, replace=replace)
    url = f"{base}/api/v2/dags/{urllib.parse.quote(name, safe='')}/dagRuns"
    body = {"logical_date": None, "conf": {AIRFLOW_CONF_KEY: source}}
    got = _post(url, body, _token(base, env))
    new_run = got.get("dag_run_id")
    return ReplayStart(
        orchestrator,
        name,
        run,
        True,
        command,
        str(new_run) if new_run else None,
        url,
        got,
        lock=derived,
        replace=replace,
    )
