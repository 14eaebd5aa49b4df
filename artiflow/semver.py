"""Semantic version labels (Comet style), optional on each version.

Example:
    >>> SemVer.parse("1.4.0").next_minor()
    SemVer(major=1, minor=5, patch=0, prerelease=None, build=None)
    >>> str(SemVer.parse("1.4.0").next_major())
    '2.0.0'
"""

from __future__ import annotations

from dataclasses import dataclass

from .exceptions import InvalidRefError
from .refs import _SEMVER

__all__ = ["SemVer"]


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

        Example:
            >>> SemVer.parse("2.0.0-rc.1").prerelease
            'rc.1'
        """
        m = _SEMVER.fullmatch(text.strip()) if isinstance(text, str) else None
        if not m:
            raise InvalidRefError(
                f"invalid semantic version {text!r}: use MAJOR.MINOR.PATCH, e.g. '1.4.0'"
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

    def _key(self) -> tuple[int, int, int, int, str]:
        return (
            self.major,
            self.minor,
            self.patch,
            0 if self.prerelease else 1,
            self.prerelease or "",
        )

    def __lt__(self, other: SemVer) -> bool:
        return self._key() < other._key()

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += f"-{self.prerelease}"
        if self.build:
            text += f"+{self.build}"
        return text
