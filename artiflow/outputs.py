"""``Output``: how an integration declares an artifact a task writes.

Example:
    >>> as_output("churn-model").name
    'churn-model'
    >>> as_output(Output("model", type="model", aliases=("candidate",))).aliases
    ('candidate',)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .exceptions import InvalidRefError
from .refs import validate_alias, validate_name

__all__ = ["Output", "as_output"]


@dataclass(frozen=True)
class Output:
    """An output declaration: the collection name (optionally ``project/name``), its type,
    and aliases/tags/metadata applied to every version the task logs."""

    name: str
    type: str = "dataset"
    aliases: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    description: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise InvalidRefError(f"invalid output name {self.name!r}")
        if ":" in self.name:
            raise InvalidRefError(
                f"invalid output {self.name!r}: outputs name a collection, not a version; "
                "put aliases in Output(..., aliases=[...])"
            )
        for part in self.name.split("/", 1):
            validate_name(part, "output name")
        object.__setattr__(self, "aliases", tuple(self.aliases))
        object.__setattr__(self, "tags", tuple(self.tags))
        for a in self.aliases:
            validate_alias(a)


def as_output(value: str | Output) -> Output:
    """Turn a collection name or an :class:`Output` into an :class:`Output`."""
    return value if isinstance(value, Output) else Output(value)
