"""Semantic version labels (Comet style), optional on each version, ordered as SemVer 2.0 says.

Precedence (semver.org, section 11): major, minor, patch compare numerically; a version with a
prerelease is lower than the same version without; prerelease identifiers compare one by one,
numeric ones numerically and below alphanumeric ones (compared in ASCII order), and a longer set
wins when every identifier before it is equal. Build metadata does not count for precedence.

``==`` compares the label exactly (``1.0.0+a`` and ``1.0.0+b`` are two labels), while ``<``,
``<=``, ``>`` and ``>=`` compare precedence (so both ``1.0.0+a <= 1.0.0+b`` and ``>=`` hold);
:meth:`SemVer.precedence` is the sort key.

Example:
    >>> SemVer.parse("1.4.0").next_minor()
    SemVer(major=1, minor=5, patch=0, prerelease=None, build=None)
    >>> str(SemVer.parse("1.4.0").next_major())
    '2.0.0'
    >>> SemVer.parse("1.0.0-rc.10") > SemVer.parse("1.0.0-rc.2")
    True
    >>> [str(v) for v in sorted(map(SemVer.parse, ["1.0.0", "1.0.0-beta", "1.0.0-alpha.1"]))]
    ['1.0.0-alpha.1', '1.0.0-beta', '1.0.0']
"""

from __future__ import annotations

from dataclasses import dataclass

from .exceptions import InvalidRefError
from .limits import LIMITS
from .refs import SEMVER_PATTERN as _SEMVER

__all__ = ["SemVer"]

_MAX = LIMITS["semver"].max_chars or 128


@dataclass(frozen=True, order=False)
class SemVer:
    """An immutable semantic version ``MAJOR.MINOR.PATCH[-pre][+build]``."""

    major: int
    minor: int
    patch: int
    prerelease: str | None = None
    build: str | None = None

    @classmethod
    def parse(cls, text: str) -> SemVer:
        """Parse a label, raising :class:`InvalidRefError` when it is not a semantic version.

        Only ASCII digits count, surrounding whitespace is refused, numeric identifiers have
        no leading zeros, and a label is at most 128 characters (its column).

        Example:
            >>> SemVer.parse("2.0.0-rc.1").prerelease
            'rc.1'
        """
        m = _SEMVER.fullmatch(text) if isinstance(text, str) else None
        if not m:
            hint = ""
            if isinstance(text, str) and text != text.strip() and _SEMVER.fullmatch(text.strip()):
                hint = f" (strip the surrounding whitespace: {text.strip()!r})"
            raise InvalidRefError(
                f"invalid semantic version {text!r}: use MAJOR.MINOR.PATCH with ASCII digits, "
                f"e.g. '1.4.0' or '2.0.0-rc.1'{hint}"
            )
        if len(text) > _MAX:
            raise InvalidRefError(
                f"invalid semantic version {text[:40]!r}… ({len(text)} characters): at most "
                f"{_MAX} characters; use a shorter prerelease or build part"
            )
        return cls(int(m[1]), int(m[2]), int(m[3]), m[4], m[5])

    def next_major(self) -> SemVer:
        """The next major version: ``1.4.2`` -> ``2.0.0``."""
        return SemVer(self.major + 1, 0, 0)

    def next_minor(self) -> SemVer:
        """The next minor version: ``1.4.2`` -> ``1.5.0``."""
        return SemVer(self.major, self.minor + 1, 0)

    def next_patch(self) -> SemVer:
        """The next patch version: ``1.4.2`` -> ``1.4.3``."""
        return SemVer(self.major, self.minor, self.patch + 1)

    def precedence(self) -> tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]:
        """The SemVer 2.0 sort key (build metadata left out).

        Example:
            >>> SemVer.parse("1.0.0+build.5").precedence() == SemVer.parse("1.0.0").precedence()
            True
        """
        if not self.prerelease:
            return (self.major, self.minor, self.patch, 1, ())
        ids = tuple(
            (0, int(part), "") if part.isdigit() and part.isascii() else (1, 0, part)
            for part in self.prerelease.split(".")
        )
        return (self.major, self.minor, self.patch, 0, ids)

    def _other(self, other: object) -> SemVer | None:
        if isinstance(other, SemVer):
            return other
        if isinstance(other, str):
            return SemVer.parse(other)
        return None

    def __lt__(self, other: object) -> bool:
        o = self._other(other)
        if o is None:
            return NotImplemented
        return self.precedence() < o.precedence()

    def __le__(self, other: object) -> bool:
        o = self._other(other)
        if o is None:
            return NotImplemented
        return self.precedence() <= o.precedence()

    def __gt__(self, other: object) -> bool:
        o = self._other(other)
        if o is None:
            return NotImplemented
        return self.precedence() > o.precedence()

    def __ge__(self, other: object) -> bool:
        o = self._other(other)
        if o is None:
            return NotImplemented
        return self.precedence() >= o.precedence()

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += f"-{self.prerelease}"
        if self.build:
            text += f"+{self.build}"
        return text
