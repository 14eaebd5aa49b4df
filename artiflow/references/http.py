"""``http(s)://`` references: ETag and Content-Length from a HEAD. Without a strong ETag (none,
or a weak ``W/`` one; Last-Modified has a one-second resolution and is not trusted) the content
is fetched once at log time, streamed, and its BLAKE3 digest recorded, so a same-size change is
still noticed; downloads send ``If-Match`` with a strong ETag.

Example:
    >>> strong_etag('"abc"'), strong_etag('W/"abc"'), strong_etag(None)
    (True, False, False)
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from ..exceptions import InvalidPathError, StoreError, VerificationError
from ..hashing import hash_stream
from ..manifest import Entry
from .base import Hasher, Sink, gone

__all__ = ["fetch", "head", "identity", "resolve", "strong_etag"]


def head(uri: str) -> dict[str, str]:
    """The headers of a HEAD request (lower-case names); ``{}`` on HTTP 404."""
    req = urllib.request.Request(uri, method="HEAD")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return {k.lower(): v for k, v in resp.headers.items()}
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return {}
        raise StoreError(f"cannot reach reference {uri!r}: {exc}") from exc
    except OSError as exc:
        raise StoreError(f"cannot reach reference {uri!r}: {exc}") from exc


def strong_etag(etag: object) -> bool:
    """A strong ETag names exact bytes; a weak one (``W/``) or none names nothing."""
    return bool(etag) and not str(etag).startswith("W/")


def _hash(uri: str) -> tuple[str, int] | None:
    """BLAKE3 digest and size of what ``uri`` serves now, streamed (``None`` on HTTP 404)."""
    try:
        with urllib.request.urlopen(urllib.request.Request(uri), timeout=60) as resp:
            return hash_stream(resp)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise StoreError(f"cannot read reference {uri!r}: {exc}") from exc
    except OSError as exc:
        raise StoreError(f"cannot read reference {uri!r}: {exc}") from exc


def resolve(
    entry_path: str, uri: str, limit: int, hasher: Hasher | None, options: Mapping[str, Any]
) -> list[Entry]:
    """One entry: ETag and size, or (no strong ETag) the digest of the content fetched once."""
    headers = head(uri)
    if not headers:
        raise InvalidPathError(f"reference {uri!r} does not exist (HTTP 404)")
    extra: dict[str, Any] = {}
    if "etag" in headers:
        extra["etag"] = headers["etag"]
    size = int(headers["content-length"]) if "content-length" in headers else None
    if strong_etag(headers.get("etag")):
        return [Entry(entry_path, size=size, ref=uri, extra=extra)]
    hashed = _hash(uri)
    if hashed is None:
        raise InvalidPathError(f"reference {uri!r} does not exist (HTTP 404)")
    digest, size = hashed
    return [Entry(entry_path, digest=digest, size=size, ref=uri, extra=extra)]


def identity(entry: Entry, options: Mapping[str, Any]) -> dict[str, Any]:
    """``reachable``, ``etag``, ``size`` from a HEAD, and the content's ``digest`` when no strong
    ETag was recorded (the content is the identity); ``{}`` when gone."""
    assert entry.ref is not None
    headers = head(entry.ref)
    out: dict[str, Any] = {}
    if not headers:
        return out
    out["reachable"] = True
    if "etag" in headers:
        out["etag"] = headers["etag"]
    if "content-length" in headers:
        out["size"] = int(headers["content-length"])
    size_moved = entry.size is not None and out.get("size") not in (None, entry.size)
    if entry.digest is not None and not strong_etag(entry.extra.get("etag")) and not size_moved:
        hashed = _hash(entry.ref)
        if hashed is None:
            return {}
        out["digest"], out["size"] = hashed
    return out


def fetch(entry: Entry, sink: Sink, options: Any) -> tuple[str, int, list[str]]:
    """Stream the reference (``If-Match`` its strong ETag) into ``sink``."""
    assert entry.ref is not None
    req = urllib.request.Request(entry.ref)
    etag = entry.extra.get("etag")
    if strong_etag(etag):
        req.add_header("If-Match", str(etag))
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            headers = {k.lower(): v for k, v in resp.headers.items()}
            digest, size = hash_stream(resp, sink=sink)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise gone(entry) from exc
        if exc.code == 412:
            raise VerificationError(
                f"reference {entry.ref!r} (entry {entry.path!r}) changed since it was "
                "logged: the server no longer has ETag " + str(etag),
                [("changed", entry.path)],
            ) from exc
        raise StoreError(f"cannot download reference {entry.ref!r}: {exc}") from exc
    except OSError as exc:
        raise StoreError(f"cannot download reference {entry.ref!r}: {exc}") from exc
    problems = []
    if etag and headers.get("etag") not in (None, etag):
        problems.append("its ETag changed")
    return digest, size, problems
