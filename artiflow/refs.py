"""Parse and format artifact refs: ``[project/]name[:selector]`` (pure, no I/O).

A selector is an alias (``latest``, ``production``), a version index (``v3``), a semantic version
label (``1.4.0``) or absent, which means ``latest``.

Example:
    >>> r = parse_ref("bike-dataset:production")
    >>> (r.project, r.name, r.selector)
    ('default', 'bike-dataset', 'production')
    >>> str(parse_ref("team/model:v3"))
    'team/model:v3'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .exceptions import InvalidRefError
from .limits import NAME_MAX

__all__ = [
    "LATEST",
    "SEMVER_PATTERN",
    "Ref",
    "is_semver",
    "is_version_index",
    "parse_ref",
    "validate_alias",
    "validate_name",
]

LATEST = "latest"
_NAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{NAME_MAX - 1}}}")
_INDEX = re.compile(r"v(0|[1-9][0-9]*)")
_INDEX_LIKE = re.compile(r"[vV][0-9]+")  # v01, v007, V1: never aliases, never valid selectors
# semver.org's own expression, ASCII digits only ("\d" would take '١٣' and store '13')
_NUM = r"(0|[1-9][0-9]*)"
_PRE_ID = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_SEMVER = re.compile(
    rf"{_NUM}\.{_NUM}\.{_NUM}"
    rf"(?:-({_PRE_ID}(?:\.{_PRE_ID})*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
)
SEMVER_PATTERN = _SEMVER  # public for artiflow.semver, which parses with the same expression
_NAME_RULE = "1-128 characters: letters, digits, '.', '_', '-', starting with a letter or digit"


def validate_name(value: object, what: str = "name") -> str:
    """Return ``value`` if it is a valid collection or project name, else raise.

    Example:
        >>> validate_name("bike-dataset")
        'bike-dataset'
    """
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise InvalidRefError(f"invalid {what} {value!r}: use {_NAME_RULE}")
    return value


def is_version_index(selector: str) -> bool:
    """True for selectors of the form ``v<digits>``.

    Example:
        >>> is_version_index("v12"), is_version_index("prod")
        (True, False)
    """
    return bool(_INDEX.fullmatch(selector))


def is_semver(selector: str) -> bool:
    """True for semantic version labels such as ``1.4.0`` or ``2.0.0-rc.1``.

    Example:
        >>> is_semver("1.4.0")
        True
    """
    return bool(_SEMVER.fullmatch(selector))


def validate_alias(alias: object, *, allow_latest: bool = False) -> str:
    """Return ``alias`` if a user may set it, else raise :class:`InvalidRefError`.

    ``latest`` is managed by artiflow, and ``v<digits>`` and semantic versions are selectors of
    their own, so none of them can be an alias.

    Example:
        >>> validate_alias("production")
        'production'
    """
    if not isinstance(alias, str) or not _NAME.fullmatch(alias):
        raise InvalidRefError(f"invalid alias {alias!r}: use {_NAME_RULE}")
    if alias.lower() == LATEST and not (allow_latest and alias == LATEST):
        raise InvalidRefError(
            f"alias {alias!r}: 'latest' (in any case) is managed by artiflow (it always names "
            "the newest version); choose another alias"
        )
    if _INDEX_LIKE.fullmatch(alias):
        raise InvalidRefError(
            f"alias {alias!r} looks like a version index (v<digits>, in any case, with or "
            "without leading zeros); choose another alias"
        )
    if is_semver(alias):
        raise InvalidRefError(
            f"alias {alias!r} looks like a semantic version; pass it as version=... instead"
        )
    return alias


@dataclass(frozen=True)
class Ref:
    """A parsed ref. ``selector`` is ``latest`` when the ref had none.

    Example:
        >>> Ref("default", "model", "v2").version_index
        2
    """

    project: str
    name: str
    selector: str = LATEST

    @property
    def version_index(self) -> int | None:
        """The index for ``vN`` selectors, else None."""
        return int(self.selector[1:]) if is_version_index(self.selector) else None

    @property
    def is_latest(self) -> bool:
        """True when the selector is ``latest`` (or was absent)."""
        return self.selector == LATEST

    @property
    def full_name(self) -> str:
        """``project/name`` without the selector (``ArtifactVersion.full_name`` too).

        Example:
            >>> Ref("team", "model", "v2").full_name, Ref("team", "model").collection_name
            ('team/model', 'model')
        """
        return f"{self.project}/{self.name}"

    @property
    def collection_name(self) -> str:
        """The collection name without its project (``ArtifactVersion.collection_name``)."""
        return self.name

    #: the older spelling of :attr:`full_name` (kept working; ``ArtifactVersion.collection``
    #: is the bare name: prefer ``full_name`` / ``collection_name``, which mean the same on both)
    collection = full_name

    def __str__(self) -> str:
        return f"{self.project}/{self.name}:{self.selector}"


def parse_ref(ref: object, default_project: str = "default") -> Ref:
    """Parse ``[project/]name[:selector]`` into a :class:`Ref`, naming the bad part on error.

    Example:
        >>> parse_ref("model")
        Ref(project='default', name='model', selector='latest')
    """
    if isinstance(ref, Ref):
        return ref
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidRefError(
            f"invalid ref {ref!r}: expected a string like 'bike-dataset:latest' "
            "or 'project/name:v3'"
        )
    if ref != ref.strip():
        raise InvalidRefError(
            f"invalid ref {ref!r}: it has surrounding whitespace (a trailing newline?); "
            f"strip it: {ref.strip()!r}"
        )
    text = ref
    body, sep, selector = text.partition(":")
    if sep and not selector:
        raise InvalidRefError(
            f"invalid ref {ref!r}: empty selector after ':'; use an alias, vN or drop the ':'"
        )
    if ":" in selector:
        raise InvalidRefError(f"invalid ref {ref!r}: more than one ':'")
    parts = body.split("/")
    if len(parts) == 1:
        project, name = default_project, parts[0]
    elif len(parts) == 2:
        project, name = parts
    else:
        raise InvalidRefError(
            f"invalid ref {ref!r}: use [project/]name[:selector], one '/' at most"
        )
    validate_name(project, "project")
    validate_name(name, "artifact name")
    if sep:
        if not (_NAME.fullmatch(selector) or is_semver(selector)):
            raise InvalidRefError(
                f"invalid selector {selector!r} in ref {ref!r}: use an alias, vN or a "
                "semantic version"
            )
        if selector != LATEST and selector.lower() == LATEST:
            raise InvalidRefError(
                f"invalid selector {selector!r} in ref {ref!r}: write 'latest' in lower case"
            )
        if _INDEX_LIKE.fullmatch(selector) and not is_version_index(selector):
            raise InvalidRefError(
                f"invalid selector {selector!r} in ref {ref!r}: a version index is a lower-case "
                f"'v' and a number without leading zeros, e.g. 'v{int(selector[1:])}'"
            )
    else:
        selector = LATEST
    return Ref(project, name, selector)
