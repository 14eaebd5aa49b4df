"""Reference entries: content that stays where it is (``file://``, ``s3://``, ``gs://``,
``http(s)://``) and is identified instead of copied. One module per scheme (``file``, ``http``,
``objects`` for every fsspec URL) over the shared checks in ``base``; ``dispatch`` holds the
verbs.

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

from .base import DEFAULT_MAX_OBJECTS, reference_options
from .dispatch import changed, download_reference, identity_of, resolve

__all__ = [
    "DEFAULT_MAX_OBJECTS",
    "changed",
    "download_reference",
    "identity_of",
    "reference_options",
    "resolve",
]
