"""``@artifact_task``: a ``@task`` whose artifact inputs and outputs are managed by artiflow.

Example:
    >>> from artiflow.operators import artifact_task
    >>> @artifact_task(inputs={"raw": "bike-rides:latest"}, outputs={"clean": "bike-dataset"})
    ... def build(raw, clean, day: str):
    ...     clean.add_file(raw.local_path / "rides.csv")
    >>> # in a DAG: build(day="{{ ds }}") -- the artifact parameters are injected

The artifact parameters are not passed in the DAG; the function receives each input as an
:class:`artiflow.ArtifactVersion` (downloaded, ``.local_path`` set) and each output as an empty
:class:`artiflow.Artifact` draft. The drafts are logged only when the function returns.

A mapped artifact task (``.expand(...)``) writes all its instances into ONE version per output:
each instance adds its files to a pending collaborative version (``Registry.upsert``), and a
``<task_id>__commit`` task, added automatically downstream of the mapped task, commits it once
all instances succeeded (``Registry.finish``). ``.expand()`` returns the commit task's XComArg,
which resolves to the list of the instances' return values; dependencies set on it go to the
mapped task (upstream) and to the commit task (downstream).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import attr
import attrs
from airflow.providers.standard.decorators.python import _PythonDecoratedOperator
from airflow.sdk import BaseOperator
from airflow.sdk.bases.decorator import _TaskDecorator, task_decorator_factory
from airflow.sdk.definitions.xcom_arg import PlainXComArg

from artiflow._tasking import check_overlap, check_parameters

from ._registry import registry_identity
from ._runtime import XCOM_KEY, TaskArtifacts, distributed_id
from ._specs import normalize_inputs, normalize_outputs
from .assets import alias_asset, artifact_asset, unique_assets
from .lineage import OpenLineageMixin

__all__ = ["ArtifactCommitOperator", "ArtifactDecoratedOperator", "artifact_task"]

_ORIGINAL = "__artiflow_original__"


def _without_params(fn: Callable[..., Any], names: set[str]) -> Callable[..., Any]:
    """A stand-in for ``fn`` whose signature lacks the injected artifact parameters.

    Airflow checks the call in the DAG against the function's signature at parse time; the
    artifact parameters are injected at run time, so they are hidden from that check.
    """
    sig = check_parameters(fn, sorted(names), allow_var_keyword=True)

    @functools.wraps(fn)
    def stand_in(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    stand_in.__signature__ = sig.replace(  # type: ignore[attr-defined]
        parameters=[p for p in sig.parameters.values() if p.name not in names]
    )
    setattr(stand_in, _ORIGINAL, fn)
    return stand_in


def assets_for(
    inputs: Mapping[str, str],
    outputs: Mapping[str, Mapping[str, Any]],
    conn_id: str | None = None,
) -> tuple:
    """The inlet and outlet Assets of an artifact task (computed at parse time), in the
    registry of connection ``conn_id`` (None: the default; see ``registry_identity``).

    Example:
        >>> inl, outl = assets_for({"a": "ds:latest"}, {"m": {"name": "model", "aliases": ["prod"]}})
        >>> [a.uri.split("/", 3)[3] for a in inl], [a.uri.split("/", 3)[3] for a in outl]
        (['default/ds'], ['default/model', 'default/model/alias/prod'])
    """
    ident = registry_identity(conn_id)
    inlets = [artifact_asset(ref, registry=ident) for ref in inputs.values()]
    outlets = []
    for out in outputs.values():
        outlets.append(artifact_asset(out["name"], registry=ident))
        outlets.extend(
            alias_asset(out["name"], a, registry=ident) for a in out.get("aliases") or ()
        )
    return unique_assets(inlets), unique_assets(outlets)


class ArtifactDecoratedOperator(OpenLineageMixin, _PythonDecoratedOperator):
    """The operator behind ``@artifact_task`` (a ``@task`` with artifact inputs/outputs).

    Example:
        >>> from artiflow.operators import artifact_task
        >>> artifact_task(outputs={"out": "ds"})(lambda out: None).operator_class.__name__
        'ArtifactDecoratedOperator'
    """

    custom_operator_name = "@task.artiflow"

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Any = None,
        op_kwargs: Any = None,
        inputs: Mapping[str, Any] | None = None,
        outputs: Mapping[str, Any] | None = None,
        artiflow_collaborative: bool = False,
        download_inputs: bool = True,
        artiflow_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        ins = normalize_inputs(inputs)
        outs = normalize_outputs(outputs)
        original = getattr(python_callable, _ORIGINAL, python_callable)
        check_overlap(ins, outs)
        super().__init__(
            python_callable=_without_params(original, set(ins) | set(outs)),
            op_args=op_args,
            op_kwargs=op_kwargs,
            **kwargs,
        )
        self.artiflow_inputs = ins
        self.artiflow_outputs = outs
        self.artiflow_collaborative = artiflow_collaborative
        self.download_inputs = download_inputs
        self.artiflow_conn_id = artiflow_conn_id
        # Run the real function (with the injected parameters) at execution time.
        self.python_callable = original
        self._artiflow: TaskArtifacts | None = None

    def execute(self, context: Any) -> Any:
        """Resolve inputs, call the function with inputs/drafts injected, log the outputs."""
        ta = TaskArtifacts(
            self,
            context,
            inputs=self.artiflow_inputs,
            outputs=self.artiflow_outputs,
            collaborative=self.artiflow_collaborative,
            download=self.download_inputs,
        )
        self._artiflow = ta
        with ta:
            ta.open()
            self.op_kwargs = {**self.op_kwargs, **ta.inputs, **ta.drafts}
            result = super().execute(context)
            ta.commit()
            ta.publish()
        return result


@attrs.define(repr=False)
class _CollaborativeXComArg(PlainXComArg):
    """XComArg of a mapped artifact task: upstream edges go to the mapped task, downstream
    edges and data references to its commit task."""

    mapped: Any = None

    @property
    def roots(self) -> list[Any]:
        return [self.mapped]

    def set_upstream(self, task_or_task_list: Any, edge_modifier: Any = None) -> None:
        self.mapped.set_upstream(task_or_task_list, edge_modifier)


class ArtifactCommitOperator(OpenLineageMixin, BaseOperator):
    """Commits the collaborative versions written by the instances of a mapped artifact task.

    Added automatically by ``@artifact_task(...).expand(...)``; runs once all instances
    succeeded, and returns the list of their return values. Its registry run uses every input
    the instances used and logs the committed versions, so lineage runs through it.

    Example:
        >>> ArtifactCommitOperator.__name__
        'ArtifactCommitOperator'
    """

    ui_color = "#d6eaf8"

    def __init__(
        self,
        *,
        mapped_task_id: str,
        outputs: Mapping[str, Any],
        artiflow_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        outs = normalize_outputs(outputs)
        kwargs.setdefault("outlets", assets_for({}, outs, artiflow_conn_id)[1])
        super().__init__(**kwargs)
        self.artiflow_conn_id = artiflow_conn_id
        self.mapped_task_id = mapped_task_id
        self.artiflow_outputs = outs
        self.artiflow_inputs: dict[str, str] = {}
        self._artiflow: TaskArtifacts | None = None

    def execute(self, context: Any) -> Any:
        ti = context["ti"]
        # a list of task ids (not a str) makes xcom_pull return every map index, as a list
        payloads = [
            p for p in _as_list(ti.xcom_pull(task_ids=[self.mapped_task_id], key=XCOM_KEY)) if p
        ]
        results = ti.xcom_pull(task_ids=[self.mapped_task_id])
        targets = {param: _generation(param, payloads) for param in self.artiflow_outputs}
        ta = TaskArtifacts(
            self,
            context,
            inputs={},
            outputs=self.artiflow_outputs,
            info={GENERATIONS_KEY: targets},
        )
        self._artiflow = ta
        with ta:
            run = ta.start()
            used = sorted({ref for p in payloads for ref in (p.get("inputs") or {}).values()})
            for ref in used:
                ta.inputs[ref] = run.use(ta.resolve(ref))
            for param in self.artiflow_outputs:
                self._commit_output(ta, param, payloads, targets[param])
            ta.publish()
        return _as_list(results)

    def _commit_output(
        self, ta: TaskArtifacts, param: str, payloads: list[Any], target: int
    ) -> None:
        """Commit generation ``target`` of the collaborative version of ``param``.

        * Every instance wrote that generation (a first run, or a clear of the whole mapped
          task): commit it.
        * Some instances still point at an older generation, committed before (only some map
          indexes were cleared): their files are carried over from the version this task
          committed before, so the new version holds every instance's part.
        * An earlier try of this task committed that generation already (only this commit
          task was cleared): the version it became is logged again by this try (same
          content: no new version).
        """
        out = self.artiflow_outputs[param]
        done = self._committed(ta, out["name"], param, target)
        if done is not None:
            ta.produced[param] = ta.start().log(
                done.new_draft(),
                aliases=tuple(out.get("aliases") or ()),
                tags=tuple(out.get("tags") or ()),
            )
            return
        did = distributed_id(ta.dag_id, ta.run_id, self.mapped_task_id, param, target)
        stale = [
            p
            for p in payloads
            if (p.get("parts") or {}).get(param)
            and int((p.get("generations") or {}).get(param, 0)) < target
        ]
        if stale:
            before = self._committed(ta, out["name"], param, None)
            keep = {f for p in stale for f in (p.get("files") or {}).get(param) or ()}
            if before is None or not keep:
                from artiflow.exceptions import ArtifactFinalizedError

                raise ArtifactFinalizedError(
                    f"{self.task_id}: map indexes of {self.mapped_task_id} wrote into an "
                    f"earlier version of {out['name']!r} that cannot be combined with the "
                    "cleared ones; clear every map index of the mapped task together"
                )
            carried = before.new_draft()
            for path in carried.paths():
                if path not in keep:
                    carried.remove(path)
            if carried.paths():
                ta.registry.upsert(carried, distributed_id=did)
        ta.finish_parts({param: did})

    def _committed(self, ta: TaskArtifacts, name: str, param: str, generation: int | None) -> Any:
        """The version of ``name`` an earlier successful try of this task logged in this DAG
        run (for generation ``generation``; None: any), or None."""
        from artiflow.refs import parse_ref

        r = parse_ref(name, default_project=ta.registry.default_project)
        for run in ta.registry.runs(
            orchestrator="airflow",
            pipeline=ta.dag_id,
            pipeline_run=ta.run_id,
            state="SUCCESS",
            limit=None,
        ):
            if run.task != self.task_id:
                continue
            if generation is not None:
                gens = run.info.get(GENERATIONS_KEY) or {}
                if int(gens.get(param, 0)) != generation:
                    continue
            for v in run.logged_artifacts():
                if (v.project, v.collection) == (r.project, r.name):
                    return v
        return None


#: the run info key of a commit task's try: the generation it committed, per output
GENERATIONS_KEY = "collaborative_generations"


def _generation(param: str, payloads: list[Any]) -> int:
    """The newest collaborative generation the mapped instances wrote for ``param``."""
    return max(
        (
            int((p.get("generations") or {}).get(param, 0))
            for p in payloads
            if (p.get("parts") or {}).get(param)
        ),
        default=0,
    )


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, (str, bytes, Mapping)):
        return [value]
    try:
        return list(value)
    except TypeError:
        return [value]


@attr.define(slots=False)
class _ArtifactTaskDecorator(_TaskDecorator):
    """``_TaskDecorator`` whose ``expand`` adds the commit task of a collaborative version."""

    def _expand(self, expand_input: Any, *, strict: bool) -> Any:
        outputs = self.kwargs.get("outputs") or {}
        if not outputs:
            return super()._expand(expand_input, strict=strict)
        mapped_arg = attr.evolve(
            self, kwargs={**self.kwargs, "artiflow_collaborative": True}
        )._expand_plain(expand_input, strict=strict)
        mapped = mapped_arg.operator
        commit = ArtifactCommitOperator(
            task_id=f"{mapped.task_id.rsplit('.', 1)[-1]}__commit",
            mapped_task_id=mapped.task_id,
            outputs=outputs,
            artiflow_conn_id=self.kwargs.get("artiflow_conn_id"),
            dag=mapped.dag,
            task_group=mapped.task_group,
        )
        mapped >> commit
        return _CollaborativeXComArg(operator=commit, mapped=mapped)

    def _expand_plain(self, expand_input: Any, *, strict: bool) -> Any:
        return super()._expand(expand_input, strict=strict)


def artifact_task(
    python_callable: Callable[..., Any] | None = None,
    *,
    inputs: Mapping[str, Any] | None = None,
    outputs: Mapping[str, Any] | None = None,
    multiple_outputs: bool | None = None,
    artiflow_conn_id: str | None = None,
    **kwargs: Any,
) -> Any:
    """Make a function an artifact-aware Airflow task (also available as ``@task.artiflow``).

    ``inputs`` maps parameter names to refs (``"bike-dataset:latest"``, ``"model:production"``,
    ``"team/data:v3"``); ``outputs`` maps parameter names to collection names or
    ``artiflow.Output(name, type=..., aliases=..., tags=..., metadata=...)``. Every other keyword
    goes to Airflow (``retries``, ``pool``, ``task_id``...). Each output is an outlet Asset
    (``x-artiflow://<registry>/<project>/<name>``, plus one per alias declared on the output) and each
    input an inlet, set at parse time. ``artiflow_conn_id`` names the Airflow connection of
    the registry (type ``artiflow``; default ``artiflow_default``, then the ``ARTIFLOW_*``
    environment, see :class:`~artiflow.operators.hooks.ArtiflowHook`).

    Example:
        >>> from artiflow import Output
        >>> @artifact_task(
        ...     inputs={"data": "bike-dataset"},
        ...     outputs={"model": Output("bike-model", type="model", aliases=["candidate"])},
        ...     retries=2,
        ... )
        ... def train(data, model, epochs: int = 3):
        ...     with model.new_file("model.json") as f:
        ...         f.write('{"epochs": %d}' % epochs)
        ...     model.metadata["rmse"] = 1.5
    """
    ins = normalize_inputs(inputs)
    outs = normalize_outputs(outputs)
    inlets, outlets = assets_for(ins, outs, artiflow_conn_id)
    kwargs["inlets"] = unique_assets([*(kwargs.get("inlets") or []), *inlets])
    kwargs["outlets"] = unique_assets([*(kwargs.get("outlets") or []), *outlets])
    if multiple_outputs is None:
        multiple_outputs = attr.NOTHING  # type: ignore[assignment]
    factory_kwargs = {"inputs": ins, "outputs": outs, **kwargs}
    if artiflow_conn_id is not None:
        factory_kwargs["artiflow_conn_id"] = artiflow_conn_id

    def wrap(fn: Callable[..., Any]) -> Any:
        _without_params(fn, set(ins) | set(outs))  # fail early on unknown parameter names
        # Built by task_decorator_factory, then given the collaborative expand() above.
        plain: Any = task_decorator_factory(
            python_callable=fn,
            multiple_outputs=multiple_outputs,
            decorated_operator_class=ArtifactDecoratedOperator,
            **factory_kwargs,
        )
        return _ArtifactTaskDecorator(
            function=plain.function,
            operator_class=plain.operator_class,
            multiple_outputs=plain.multiple_outputs,
            kwargs=plain.kwargs,
            decorator_name="task.artiflow",
        )

    if python_callable is not None:
        return wrap(python_callable)
    return wrap
