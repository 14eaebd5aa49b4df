"""The reference verbs over the scheme modules: :func:`resolve` (identify at log time),
:func:`identity_of` / :func:`changed` (has it moved on?) and :func:`download_reference`
(fetch the recorded version, checked against what was recorded).

Example:
    >>> scheme_module("https://x/y").__name__, scheme_module("gs://b/k").__name__
    ('artiflow.references.http', 'artiflow.references.objects')
"""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from ..exceptions import VerificationError
from ..manifest import Entry
from . import file, http, objects
from .base import DEFAULT_MAX_OBJECTS, IDENTITY_KEYS, scheme_of

__all__ = ["changed", "download_reference", "identity_of", "resolve", "scheme_module"]

_SCHEMES: dict[str, ModuleType] = {"file": file, "http": http, "https": http}


def scheme_module(uri: str) -> ModuleType:
    """The module that handles ``uri``'s scheme (any scheme but file/http(s): fsspec)."""
    return _SCHEMES.get(scheme_of(uri), objects)


def resolve(
    entry_path: str,
    uri: str,
    *,
    checksum: bool,
    max_objects: int | None,
    hasher: Callable[[str], tuple[str, int]] | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> list[Entry]:
    """Expand one reference into entries (a prefix/folder becomes one entry per object).

    Example:
        >>> resolve("page", "https://example.com/x", checksum=False, max_objects=None)[0].ref
        'https://example.com/x'
    """
    if not checksum:
        return [Entry(entry_path, ref=uri)]
    limit = max_objects or DEFAULT_MAX_OBJECTS
    resolved: list[Entry] = scheme_module(uri).resolve(
        entry_path, uri, limit, hasher, dict(storage_options or {})
    )
    return resolved


def identity_of(entry: Entry, storage_options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The current remote identity of a reference (``{}`` when it is gone), to compare with
    ``entry.extra`` / ``entry.digest``. A reference pinned to an S3 version id is looked up by
    that version.

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "x"); _ = open(p, "w").write("1")
        >>> identity_of(Entry("x", size=1, ref="file://" + p))
        {'size': 1}
    """
    assert entry.ref is not None
    options = None if storage_options is None else dict(storage_options)
    now: dict[str, Any] = scheme_module(entry.ref).identity(entry, options)
    return now


def changed(entry: Entry, storage_options: Mapping[str, Any] | None = None) -> bool:
    """True when the reference's remote identity no longer matches what was recorded (it is
    gone, or its size, digest, ETag, md5, crc32c or generation differ). A reference pinned to an
    S3 version id is unchanged as long as that version exists unchanged.

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "x"); _ = open(p, "w").write("1")
        >>> changed(Entry("x", size=1, ref="file://" + p)), changed(Entry("x", size=2, ref="file://" + p))
        (False, True)
    """
    if entry.ref is None or (entry.digest is None and not entry.extra and entry.size is None):
        return False
    now = identity_of(entry, storage_options)
    if not now:
        return True
    if entry.digest is not None and now.get("digest", entry.digest) != entry.digest:
        return True
    if (
        entry.size is not None
        and now.get("size") is not None
        and int(now["size"]) != int(entry.size)
    ):
        return True
    return any(
        key in entry.extra and key in now and str(now[key]) != str(entry.extra[key])
        for key in IDENTITY_KEYS
    )


class _Checks:
    """md5 (and crc32c where one was recorded and ``google_crc32c`` is installed) of the bytes
    streamed by a download."""

    def __init__(self, entry: Entry) -> None:
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.crc: Any = None
        if "crc32c" in entry.extra:
            try:
                import google_crc32c

                self.crc = google_crc32c.Checksum()
            except ImportError:
                self.crc = None

    def update(self, chunk: memoryview) -> None:
        self.md5.update(chunk)
        if self.crc is not None:
            self.crc.update(bytes(chunk))

    def problems(self, entry: Entry, digest: str, size: int, by_scheme: list[str]) -> list[str]:
        """What differs from what was recorded (content hash, size, the scheme's own checks,
        md5, crc32c)."""
        out = []
        if entry.digest is not None and digest != entry.digest:
            out.append("its content hash changed")
        if entry.size is not None and size != entry.size:
            out.append(f"its size is {size}, recorded {entry.size}")
        out.extend(by_scheme)
        rec_md5 = entry.extra.get("md5")
        if rec_md5 and str(rec_md5) not in (
            base64.b64encode(self.md5.digest()).decode(),
            self.md5.hexdigest(),
        ):
            out.append("its md5 changed")
        rec_crc = entry.extra.get("crc32c")
        if (
            rec_crc
            and self.crc is not None
            and str(rec_crc) != base64.b64encode(self.crc.digest()).decode()
        ):
            out.append("its crc32c changed")
        return out


def download_reference(
    entry: Entry, dest: Path, storage_options: Mapping[str, Any] | None = None
) -> None:
    """Fetch a reference to ``dest`` (the recorded version where one was recorded), streamed and
    checked against what was recorded; ``dest`` appears only when the check passes.

    Example:
        >>> import tempfile, os
        >>> d = tempfile.mkdtemp(); p = os.path.join(d, "x"); _ = open(p, "w").write("1")
        >>> download_reference(Entry("x", size=1, ref="file://" + p), Path(d) / "out")
        >>> open(os.path.join(d, "out")).read()
        '1'
    """
    assert entry.ref is not None
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.artiflow-{uuid.uuid4().hex[:8]}"
    checks = _Checks(entry)
    try:
        with open(tmp, "wb") as out:

            def sink(chunk: memoryview) -> None:
                out.write(chunk)
                checks.update(chunk)

            digest, size, by_scheme = scheme_module(entry.ref).fetch(entry, sink, storage_options)
        problems = checks.problems(entry, digest, size, by_scheme)
        if problems:
            raise VerificationError(
                f"reference {entry.ref!r} (entry {entry.path!r}) does not match what was logged: "
                + ", ".join(problems)
                + "; it was not handed out",
                [("changed", entry.path)],
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
