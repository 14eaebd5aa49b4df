"""Classic (non-decorated) artifact-aware operators.

:class:`ArtifactOperatorMixin` gives any operator ``inputs=`` and ``outputs=`` with the same
semantics as ``@artifact_task``: inlets/outlets at parse time, one registry run per try, inputs
resolved (same-run pinning) and downloaded, outputs logged only when ``execute`` returns.

Example:
    >>> from airflow.sdk import BaseOperator
    >>> class Export(ArtifactOperatorMixin, BaseOperator):
    ...     def execute_artifacts(self, context, inputs, outputs):
    ...         outputs["report"].add_file(inputs["data"].local_path / "data.csv")
    >>> # Export(task_id="export", inputs={"data": "bike-dataset"}, outputs={"report": "report"})
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.bases.operator import BaseOperatorMeta

from ._runtime import TaskArtifacts
from ._specs import normalize_inputs, normalize_outputs
from .assets import unique_assets
from .decorator import assets_for
from .lineage import OpenLineageMixin

__all__ = ["ArtifactOperator", "ArtifactOperatorMixin"]


class ArtifactOperatorMixin(OpenLineageMixin):
    """Adds ``inputs``/``outputs`` to an operator (put it before the operator class).

    ``artiflow_conn_id`` names the registry's Airflow connection (see
    :class:`~artiflow.operators.hooks.ArtiflowHook`). Override :meth:`execute_artifacts` (it receives ``{param: ArtifactVersion}`` and
    ``{param: Artifact draft}``); by default it calls the operator's own ``execute`` with
    ``self.artiflow`` set, so an existing operator's ``execute`` can read
    ``self.artiflow.inputs`` and fill ``self.artiflow.drafts``.

    Example:
        >>> ArtifactOperatorMixin.execute_artifacts.__name__
        'execute_artifacts'
    """

    def __init__(
        self,
        *,
        inputs: Mapping[str, Any] | None = None,
        outputs: Mapping[str, Any] | None = None,
        download_inputs: bool = True,
        artiflow_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        ins = normalize_inputs(inputs)
        outs = normalize_outputs(outputs)
        inlets, outlets = assets_for(ins, outs, artiflow_conn_id)
        kwargs["inlets"] = unique_assets([*_as_list(kwargs.get("inlets")), *inlets])
        kwargs["outlets"] = unique_assets([*_as_list(kwargs.get("outlets")), *outlets])
        super().__init__(**kwargs)
        # BaseOperator forbids setting attributes before its __init__ ran
        self.artiflow_inputs = ins
        self.artiflow_outputs = outs
        self.download_inputs = download_inputs
        #: the Airflow connection of the registry (None: ``artiflow_default`` / environment)
        self.artiflow_conn_id = artiflow_conn_id
        self._artiflow: TaskArtifacts | None = None

    @property
    def artiflow(self) -> TaskArtifacts:
        """The artifact bookkeeping of the running try (inputs, drafts, run)."""
        if self._artiflow is None:
            raise RuntimeError("artiflow state is only available while the task executes")
        return self._artiflow

    def execute(self, context: Any) -> Any:
        """Open the run, call :meth:`execute_artifacts`, log the outputs if it returned."""
        ta = TaskArtifacts(
            self,
            context,
            inputs=self.artiflow_inputs,
            outputs=self.artiflow_outputs,
            download=self.download_inputs,
        )
        self._artiflow = ta
        with ta:
            ta.open()
            result = self.execute_artifacts(context, ta.inputs, ta.drafts)
            ta.commit()
            ta.publish()
        return result

    def execute_artifacts(
        self, context: Any, inputs: dict[str, Any], outputs: dict[str, Any]
    ) -> Any:
        """Do the work; the default calls the next class's ``execute``."""
        return super().execute(context)  # type: ignore[misc]


# Airflow's operator metaclass wraps ``__init__`` (default_args, XComArg dependencies) only for
# classes that define one; wrap the mixin's so ``class X(ArtifactOperatorMixin, SomeOperator)``
# works without an ``__init__`` of its own.
ArtifactOperatorMixin.__init__ = BaseOperatorMeta._apply_defaults(  # type: ignore[method-assign,type-var]
    ArtifactOperatorMixin.__init__
)


class ArtifactOperator(ArtifactOperatorMixin, BaseOperator):
    """Base class for new artifact-aware operators: implement :meth:`execute_artifacts`.

    Example:
        >>> class Noop(ArtifactOperator):
        ...     def execute_artifacts(self, context, inputs, outputs):
        ...         return sorted(inputs)
    """

    def execute_artifacts(
        self, context: Any, inputs: dict[str, Any], outputs: dict[str, Any]
    ) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement execute_artifacts()")


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple, set)):
        return list(value)
    return [value]
