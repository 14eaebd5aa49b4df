"""Reference entries: content that stays where it is (``file://``, ``s3://``, ``gs://``,
``http(s)://``) and is identified instead of copied.

``file://`` content is hashed (BLAKE3, through the stat cache). Object stores record their own
identity (ETag / md5 / crc32c, size, and version id or generation where the bucket keeps them);
HTTP records ETag and Content-Length. ``checksum=False`` records only the URI.

Example:
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp(); p = os.path.join(d, "x.csv")
    >>> _ = open(p, "w").write("1")
    >>> [e.path for e in resolve("data", "file://" + p, checksum=True, max_objects=None)]
    ['data']
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .exceptions import InvalidPathError, StoreError, VerificationError
from .hashing import hash_file, hash_stream
from .manifest import Entry, normalize_path

__all__ = ["download_reference", "identity_of", "resolve"]

DEFAULT_MAX_OBJECTS = 10_000
_IDENTITY_KEYS = ("etag", "md5", "crc32c", "version_id", "generation")


def _too_many(uri: str, limit: int) -> InvalidPathError:
    return InvalidPathError(
        f"reference {uri!r} expands to more than {limit} objects; pass max_objects=N with a "
        "larger N, or reference a narrower prefix (nothing was recorded)"
    )


def resolve(
    entry_path: str,
    uri: str,
    *,
    checksum: bool,
    max_objects: int | None,
    hasher: Callable[[str], tuple[str, int]] | None = None,
) -> list[Entry]:
    """Expand one reference into entries (a prefix/folder becomes one entry per object)."""
    limit = max_objects or DEFAULT_MAX_OBJECTS
    scheme = uri.split("://", 1)[0].lower()
    if not checksum:
        return [Entry(entry_path, ref=uri)]
    if scheme == "file":
        return _resolve_file(entry_path, uri, limit, hasher or hash_file)
    if scheme in ("http", "https"):
        return [_resolve_http(entry_path, uri)]
    return _resolve_fsspec(entry_path, uri, limit)


def _resolve_file(
    entry_path: str, uri: str, limit: int, hasher: Callable[[str], tuple[str, int]]
) -> list[Entry]:
    local = Path(uri[len("file://") :])
    if local.is_file():
        digest, size = hasher(str(local))
        return [Entry(entry_path, digest=digest, size=size, ref=f"file://{local.absolute()}")]
    if not local.is_dir():
        raise InvalidPathError(f"reference {uri!r} does not exist")
    files = []
    for dirpath, dirnames, filenames in os.walk(local):
        dirnames.sort()
        for f in sorted(filenames):
            files.append(os.path.join(dirpath, f))
            if len(files) > limit:
                raise _too_many(uri, limit)
    out = []
    for full in files:
        rel = os.path.relpath(full, local).replace(os.sep, "/")
        digest, size = hasher(full)
        out.append(
            Entry(
                normalize_path(f"{entry_path}/{rel}"),
                digest=digest,
                size=size,
                ref=f"file://{Path(full).absolute()}",
            )
        )
    return out


def _http_head(uri: str) -> dict[str, str]:
    req = urllib.request.Request(uri, method="HEAD")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return {k.lower(): v for k, v in resp.headers.items()}
    except OSError as exc:
        raise StoreError(f"cannot reach reference {uri!r}: {exc}") from exc


def _resolve_http(entry_path: str, uri: str) -> Entry:
    headers = _http_head(uri)
    extra: dict[str, Any] = {}
    if "etag" in headers:
        extra["etag"] = headers["etag"]
    size = int(headers["content-length"]) if "content-length" in headers else None
    return Entry(entry_path, size=size, ref=uri, extra=extra)


def _fs_for(uri: str) -> tuple[Any, str]:
    from .store import _filesystem

    options: dict[str, Any] = {}
    if uri.startswith("s3://"):
        options["version_aware"] = True
    return _filesystem(uri, options)


def _info_identity(info: dict[str, Any]) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    etag = info.get("ETag") or info.get("etag")
    if etag:
        extra["etag"] = str(etag).strip('"')
    for src, dst in (
        ("md5Hash", "md5"),
        ("crc32c", "crc32c"),
        ("VersionId", "version_id"),
        ("generation", "generation"),
    ):
        value = info.get(src)
        if value not in (None, "", "null"):
            extra[dst] = str(value)
    return extra


def _resolve_fsspec(entry_path: str, uri: str, limit: int) -> list[Entry]:
    fs, path = _fs_for(uri)
    scheme = uri.split("://", 1)[0]
    try:
        if fs.isfile(path):
            info = fs.info(path)
            return [Entry(entry_path, size=info.get("size"), ref=uri, extra=_info_identity(info))]
        listing = fs.find(path, detail=True, maxdepth=None)
    except FileNotFoundError as exc:
        raise InvalidPathError(f"reference {uri!r} does not exist") from exc
    except OSError as exc:
        raise StoreError(f"cannot list reference {uri!r}: {exc}") from exc
    if not listing:
        raise InvalidPathError(f"reference {uri!r} matches no object")
    if len(listing) > limit:
        raise _too_many(uri, limit)
    base = path.rstrip("/")
    out = []
    for key in sorted(listing):
        info = listing[key]
        rel = key[len(base) :].lstrip("/")
        out.append(
            Entry(
                normalize_path(f"{entry_path}/{rel}"),
                size=info.get("size"),
                ref=f"{scheme}://{key}",
                extra=_info_identity(info),
            )
        )
    return out


def identity_of(entry: Entry) -> dict[str, Any]:
    """The current remote identity of a reference, to compare with ``entry.extra``/``digest``."""
    assert entry.ref is not None
    scheme = entry.ref.split("://", 1)[0].lower()
    if scheme == "file":
        local = entry.ref[len("file://") :]
        if not os.path.exists(local):
            return {}
        if entry.digest is None:
            return {"size": os.path.getsize(local)}
        digest, size = hash_file(local)
        return {"digest": digest, "size": size}
    if scheme in ("http", "https"):
        headers = _http_head(entry.ref)
        out: dict[str, Any] = {}
        if "etag" in headers:
            out["etag"] = headers["etag"]
        if "content-length" in headers:
            out["size"] = int(headers["content-length"])
        return out
    fs, path = _fs_for(entry.ref)
    try:
        info = (
            fs.info(path, refresh=True)
            if "refresh" in fs.info.__code__.co_varnames
            else fs.info(path)
        )
    except FileNotFoundError:
        return {}
    return {"size": info.get("size"), **_info_identity(info)}


def changed(entry: Entry) -> bool:
    """True when the reference's remote identity no longer matches what was recorded."""
    if entry.ref is None or (entry.digest is None and not entry.extra and entry.size is None):
        return False
    now = identity_of(entry)
    if not now:
        return True
    if entry.digest is not None and now.get("digest", entry.digest) != entry.digest:
        return True
    if entry.size is not None and now.get("size", entry.size) != entry.size:
        return True
    for key in _IDENTITY_KEYS:
        if key == "version_id" and key in entry.extra:
            continue  # a pinned version stays readable after the key moved on
        if key in entry.extra and key in now and str(now[key]) != str(entry.extra[key]):
            return True
    return False


def download_reference(entry: Entry, dest: Path) -> None:
    """Fetch a reference to ``dest`` (the recorded version where one was recorded) and check it."""
    assert entry.ref is not None
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.artiflow-{uuid.uuid4().hex[:8]}"
    scheme = entry.ref.split("://", 1)[0].lower()
    md5 = hashlib.md5(usedforsecurity=False)
    headers: dict[str, str] = {}
    try:
        with open(tmp, "wb") as out:

            def sink(chunk: memoryview) -> None:
                out.write(chunk)
                md5.update(chunk)

            if scheme == "file":
                with open(entry.ref[len("file://") :], "rb") as src:
                    digest, size = hash_stream(src, sink=sink)
            elif scheme in ("http", "https"):
                try:
                    with urllib.request.urlopen(entry.ref, timeout=60) as resp:
                        headers = {k.lower(): v for k, v in resp.headers.items()}
                        digest, size = hash_stream(resp, sink=sink)
                except OSError as exc:
                    raise StoreError(f"cannot download reference {entry.ref!r}: {exc}") from exc
            else:
                fs, path = _fs_for(entry.ref)
                kwargs: dict[str, Any] = {}
                if "version_id" in entry.extra:
                    kwargs["version_id"] = entry.extra["version_id"]
                if "generation" in entry.extra and scheme in ("gs", "gcs"):
                    path = f"{path}#{entry.extra['generation']}"
                try:
                    with fs.open(path, "rb", **kwargs) as src:
                        digest, size = hash_stream(src, sink=sink)
                except FileNotFoundError as exc:
                    raise VerificationError(
                        f"reference {entry.ref!r} is gone (entry {entry.path!r})",
                        [("missing", entry.path)],
                    ) from exc
        problems = []
        if entry.digest is not None and digest != entry.digest:
            problems.append("its content hash changed")
        if entry.size is not None and size != entry.size:
            problems.append(f"its size is {size}, recorded {entry.size}")
        etag = entry.extra.get("etag")
        if scheme in ("http", "https") and etag and headers.get("etag") not in (None, etag):
            problems.append("its ETag changed")
        rec_md5 = entry.extra.get("md5")
        if rec_md5 and "version_id" not in entry.extra:
            import base64

            if base64.b64encode(md5.digest()).decode() != rec_md5 and md5.hexdigest() != rec_md5:
                problems.append("its md5 changed")
        if problems:
            raise VerificationError(
                f"reference {entry.ref!r} (entry {entry.path!r}) changed since it was logged: "
                + ", ".join(problems),
                [("changed", entry.path)],
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
