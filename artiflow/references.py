"""Reference entries: content that stays where it is (``file://``, ``s3://``, ``gs://``,
``http(s)://``) and is identified instead of copied.

What is recorded per scheme:

- ``file://``: the BLAKE3 digest and size (through the stat cache).
- ``s3://``: ETag, size, and the ``VersionId`` when the bucket is versioned. A prefix lists at most
  ``max_objects`` objects (default 10,000) page by page and stops with an error past that, never
  cutting the listing silently.
- ``gs://``: md5, crc32c, size and generation.
- ``http(s)://``: ETag and Content-Length; when the server sends no strong ETag (none, or a weak
  ``W/`` one) the content is also fetched once at log time, streamed, and its BLAKE3 digest
  recorded, and :func:`changed` / downloads compare that digest (a same-size change is noticed).
- ``checksum=False``: only the URI.

Downloading a reference fetches the recorded version (S3 ``VersionId``, GCS generation) and
checks it against what was recorded (size, md5 or single-part ETag, crc32c, ETag); :func:`changed`
tells whether a reference's remote identity moved on. Object stores are reached with the
backend's own settings (``AWS_ENDPOINT_URL``, ``STORAGE_EMULATOR_HOST``, ``FSSPEC_S3_*`` …); a
reference on the same kind of store as the registry's content also gets the registry's
``storage_options``.

Example:
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp(); p = os.path.join(d, "x.csv")
    >>> _ = open(p, "w").write("1")
    >>> [e.path for e in resolve("data", "file://" + p, checksum=True, max_objects=None)]
    ['data']
"""

from __future__ import annotations

import base64
import hashlib
import os
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .exceptions import InvalidPathError, StoreError, VerificationError
from .hashing import hash_file, hash_stream
from .manifest import Entry, normalize_path

__all__ = [
    "DEFAULT_MAX_OBJECTS",
    "changed",
    "download_reference",
    "identity_of",
    "reference_options",
    "resolve",
]

DEFAULT_MAX_OBJECTS = 10_000
_IDENTITY_KEYS = ("etag", "md5", "crc32c", "version_id", "generation")
_S3 = ("s3", "s3a")
_GS = ("gs", "gcs")


def _scheme(uri: str) -> str:
    return uri.split("://", 1)[0].lower()


def _too_many(uri: str, limit: int) -> InvalidPathError:
    return InvalidPathError(
        f"reference {uri!r} expands to more than {limit} objects; pass max_objects=N with a "
        "larger N, or reference a narrower prefix (nothing was recorded)"
    )


def reference_options(
    uri: str, store_url: str | None = None, storage_options: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The fsspec options to reach ``uri``: the registry store's ``storage_options`` when the
    reference lives on the same kind of store (same credentials and endpoint), else none (the
    backend's environment settings apply).

    Example:
        >>> reference_options("s3://b/k", "s3://store", {"anon": True})
        {'anon': True}
        >>> reference_options("gs://b/k", "s3://store", {"anon": True})
        {}
    """
    if store_url is None or not storage_options or "://" not in store_url:
        return {}
    same = {_scheme(uri), _scheme(store_url)}
    if len(same) == 1 or same <= set(_S3) or same <= set(_GS):
        return dict(storage_options)
    return {}


def _entry_options(entry: Entry) -> dict[str, Any]:
    registry = getattr(entry._version, "_registry", None)
    settings = getattr(registry, "settings", None)
    if settings is None or entry.ref is None:
        return {}
    return reference_options(entry.ref, settings.store_url, settings.storage_options)


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
    limit = max_objects or DEFAULT_MAX_OBJECTS
    scheme = _scheme(uri)
    if not checksum:
        return [Entry(entry_path, ref=uri)]
    if scheme == "file":
        return _resolve_file(entry_path, uri, limit, hasher or hash_file)
    if scheme in ("http", "https"):
        return [_resolve_http(entry_path, uri)]
    return _resolve_fsspec(entry_path, uri, limit, dict(storage_options or {}))


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


# ---- HTTP ----------------------------------------------------------------------------------
def _http_head(uri: str) -> dict[str, str]:
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


def _strong_etag(etag: object) -> bool:
    """A strong ETag names exact bytes; a weak one (``W/``) or none names nothing."""
    return bool(etag) and not str(etag).startswith("W/")


def _http_hash(uri: str) -> tuple[str, int] | None:
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


def _resolve_http(entry_path: str, uri: str) -> Entry:
    """ETag and Content-Length from a HEAD; without a strong ETag (none, or a weak ``W/`` one;
    Last-Modified has a one-second resolution and is not trusted) the content is fetched once,
    streamed, and its BLAKE3 digest recorded, so a same-size change is still noticed."""
    headers = _http_head(uri)
    if not headers:
        raise InvalidPathError(f"reference {uri!r} does not exist (HTTP 404)")
    extra: dict[str, Any] = {}
    if "etag" in headers:
        extra["etag"] = headers["etag"]
    size = int(headers["content-length"]) if "content-length" in headers else None
    if _strong_etag(headers.get("etag")):
        return Entry(entry_path, size=size, ref=uri, extra=extra)
    hashed = _http_hash(uri)
    if hashed is None:
        raise InvalidPathError(f"reference {uri!r} does not exist (HTTP 404)")
    digest, size = hashed
    return Entry(entry_path, digest=digest, size=size, ref=uri, extra=extra)


# ---- object stores ---------------------------------------------------------------------------
def _fs_for(uri: str, options: Mapping[str, Any]) -> tuple[Any, str]:
    from .store import _filesystem

    opts = dict(options)
    if _scheme(uri) in _S3:
        opts["version_aware"] = True
    return _filesystem(uri, opts)


def _info_identity(info: Mapping[str, Any], scheme: str) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    etag = info.get("ETag") or info.get("etag")
    if etag and scheme not in _GS:  # a GCS etag also changes with metadata: md5/crc32c it is
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


def _s3_versioned(fs: Any, bucket: str) -> bool:
    try:
        status = fs.call_s3("get_bucket_versioning", Bucket=bucket).get("Status")
    except (OSError, ValueError):  # no permission to ask: record what listing gives
        return False
    return status in ("Enabled", "Suspended")


def _s3_list(fs: Any, uri: str, bucket: str, prefix: str, limit: int) -> list[dict[str, Any]]:
    """Objects under ``prefix``, page by page, with their version ids on versioned buckets;
    raises once more than ``limit`` are seen (without listing the rest)."""
    out: list[dict[str, Any]] = []
    if _s3_versioned(fs, bucket):
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        while True:
            page = fs.call_s3("list_object_versions", **kwargs)
            for v in page.get("Versions", []):
                if v.get("IsLatest") and not v["Key"].endswith("/"):
                    out.append(v)
            if len(out) > limit:
                raise _too_many(uri, limit)
            if not page.get("IsTruncated"):
                return out
            kwargs["KeyMarker"] = page.get("NextKeyMarker")
            kwargs["VersionIdMarker"] = page.get("NextVersionIdMarker")
    kwargs = {"Bucket": bucket, "Prefix": prefix}
    while True:
        page = fs.call_s3("list_objects_v2", **kwargs)
        out.extend(o for o in page.get("Contents", []) if not o["Key"].endswith("/"))
        if len(out) > limit:
            raise _too_many(uri, limit)
        if not page.get("IsTruncated"):
            return out
        kwargs["ContinuationToken"] = page["NextContinuationToken"]


def _resolve_fsspec(
    entry_path: str, uri: str, limit: int, options: Mapping[str, Any]
) -> list[Entry]:
    fs, path = _fs_for(uri, options)
    scheme = _scheme(uri)
    try:
        info = fs.info(path)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise StoreError(f"cannot reach reference {uri!r}: {exc}") from exc
    if info is not None and info.get("type") == "file":
        return [
            Entry(entry_path, size=info.get("size"), ref=uri, extra=_info_identity(info, scheme))
        ]
    base = path.rstrip("/")
    found: list[tuple[str, int | None, dict[str, Any]]] = []
    try:
        if scheme in _S3:
            bucket, key, _ = fs.split_path(base)
            prefix = f"{key}/" if key else ""
            for obj in _s3_list(fs, uri, bucket, prefix, limit):
                found.append(
                    (f"{bucket}/{obj['Key']}", obj.get("Size"), _info_identity(obj, scheme))
                )
        else:
            listing = fs.find(base, detail=True)
            if len(listing) > limit:
                raise _too_many(uri, limit)
            for key, meta in listing.items():
                found.append((key, meta.get("size"), _info_identity(meta, scheme)))
    except FileNotFoundError as exc:
        raise InvalidPathError(f"reference {uri!r} does not exist") from exc
    except OSError as exc:
        raise StoreError(f"cannot list reference {uri!r}: {exc}") from exc
    if not found:
        raise InvalidPathError(f"reference {uri!r} matches no object")
    root = fs._strip_protocol(base).rstrip("/")
    out = []
    for key, size, extra in sorted(found):
        rel = fs._strip_protocol(key)[len(root) :].lstrip("/")
        out.append(
            Entry(
                normalize_path(f"{entry_path}/{rel}"),
                size=size,
                ref=f"{scheme}://{fs._strip_protocol(key)}",
                extra=extra,
            )
        )
    return out


def _object_info(fs: Any, path: str, scheme: str, extra: Mapping[str, Any]) -> dict[str, Any]:
    """Fresh metadata of a (pinned) object; ``{}`` when it is gone."""
    try:
        if scheme in _S3:
            bucket, key, _ = fs.split_path(path)
            kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
            if "version_id" in extra:
                kwargs["VersionId"] = extra["version_id"]
            head = fs.call_s3("head_object", **kwargs)
            return {
                "ETag": head.get("ETag"),
                "size": head.get("ContentLength"),
                **({"VersionId": head["VersionId"]} if head.get("VersionId") else {}),
            }
        fs.invalidate_cache(path)
        info: dict[str, Any] = fs.info(path)
        return info
    except FileNotFoundError:
        return {}
    except OSError as exc:
        if "version" in str(exc).lower() or "400" in str(exc):
            return {}  # an unknown version id: the pinned object is gone
        raise StoreError(f"cannot reach reference {path!r}: {exc}") from exc


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
    scheme = _scheme(entry.ref)
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
        if not headers:
            return out
        out["reachable"] = True
        if "etag" in headers:
            out["etag"] = headers["etag"]
        if "content-length" in headers:
            out["size"] = int(headers["content-length"])
        size_moved = entry.size is not None and out.get("size") not in (None, entry.size)
        if (
            entry.digest is not None
            and not _strong_etag(entry.extra.get("etag"))
            and not size_moved
        ):
            hashed = _http_hash(
                entry.ref
            )  # no strong ETag was recorded: the content is the identity
            if hashed is None:
                return {}
            out["digest"], out["size"] = hashed
        return out
    options = _entry_options(entry) if storage_options is None else dict(storage_options)
    fs, path = _fs_for(entry.ref, options)
    info = _object_info(fs, path, scheme, entry.extra)
    if not info:
        return {}
    return {"size": info.get("size"), **_info_identity(info, scheme)}


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
    for key in _IDENTITY_KEYS:
        if key in entry.extra and key in now and str(now[key]) != str(entry.extra[key]):
            return True
    return False


def _md5_matches(recorded: str, md5: Any) -> bool:
    return recorded in (base64.b64encode(md5.digest()).decode(), md5.hexdigest())


def _crc32c_matches(recorded: str, crc: Any) -> bool:
    return recorded == base64.b64encode(crc.digest()).decode()


_Sink = Callable[[memoryview], None]


def _gone(entry: Entry) -> VerificationError:
    return VerificationError(
        f"reference {entry.ref!r} (entry {entry.path!r}) is gone; it cannot be downloaded",
        [("missing", entry.path)],
    )


def _fetch_file(entry: Entry, sink: _Sink, storage_options: Any) -> tuple[str, int, list[str]]:
    """Stream a ``file://`` reference into ``sink``: ``(digest, size, scheme-specific problems)``."""
    assert entry.ref is not None
    try:
        with open(entry.ref[len("file://") :], "rb") as src:
            digest, size = hash_stream(src, sink=sink)
    except FileNotFoundError as exc:
        raise _gone(entry) from exc
    return digest, size, []


def _fetch_http(entry: Entry, sink: _Sink, storage_options: Any) -> tuple[str, int, list[str]]:
    """Stream an ``http(s)://`` reference (``If-Match`` its strong ETag) into ``sink``."""
    assert entry.ref is not None
    req = urllib.request.Request(entry.ref)
    etag = entry.extra.get("etag")
    if _strong_etag(etag):
        req.add_header("If-Match", str(etag))
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            headers = {k.lower(): v for k, v in resp.headers.items()}
            digest, size = hash_stream(resp, sink=sink)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise _gone(entry) from exc
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


def _fetch_object(entry: Entry, sink: _Sink, storage_options: Any) -> tuple[str, int, list[str]]:
    """Stream an object-store reference (its recorded S3 version / GCS generation) into ``sink``."""
    assert entry.ref is not None
    scheme = _scheme(entry.ref)
    options = _entry_options(entry) if storage_options is None else storage_options
    fs, path = _fs_for(entry.ref, options)
    kwargs: dict[str, Any] = {}
    if scheme in _S3 and "version_id" in entry.extra:
        kwargs["version_id"] = entry.extra["version_id"]
    if scheme in _GS and "generation" in entry.extra:
        kwargs["generation"] = entry.extra["generation"]
    try:
        with fs.open(path, "rb", block_size=8 * 1024 * 1024, **kwargs) as src:
            details = getattr(src, "details", None) or {}
            remote_etag = str(details.get("ETag") or "").strip('"')
            digest, size = hash_stream(src, sink=sink)
    except FileNotFoundError as exc:
        raise _gone(entry) from exc
    except OSError as exc:
        raise StoreError(f"cannot download reference {entry.ref!r}: {exc}") from exc
    etag = entry.extra.get("etag")
    problems = []
    if scheme in _S3 and etag and remote_etag and remote_etag != etag:
        problems.append("its ETag changed")
    return digest, size, problems


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
    scheme = _scheme(entry.ref)
    fetch = (
        _fetch_file
        if scheme == "file"
        else _fetch_http
        if scheme in ("http", "https")
        else _fetch_object
    )
    md5 = hashlib.md5(usedforsecurity=False)
    crc: Any = None
    if "crc32c" in entry.extra:
        try:
            import google_crc32c

            crc = google_crc32c.Checksum()
        except ImportError:
            crc = None
    try:
        with open(tmp, "wb") as out:

            def sink(chunk: memoryview) -> None:
                out.write(chunk)
                md5.update(chunk)
                if crc is not None:
                    crc.update(bytes(chunk))

            digest, size, by_scheme = fetch(entry, sink, storage_options)
        problems = []
        if entry.digest is not None and digest != entry.digest:
            problems.append("its content hash changed")
        if entry.size is not None and size != entry.size:
            problems.append(f"its size is {size}, recorded {entry.size}")
        problems.extend(by_scheme)
        rec_md5 = entry.extra.get("md5")
        if rec_md5 and not _md5_matches(str(rec_md5), md5):
            problems.append("its md5 changed")
        rec_crc = entry.extra.get("crc32c")
        if rec_crc and crc is not None and not _crc32c_matches(str(rec_crc), crc):
            problems.append("its crc32c changed")
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
