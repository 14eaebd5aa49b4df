"""References to S3 (moto, versioned and not), GCS (emulator) and HTTP (local server with
ETags): what is recorded, ``max_objects``, download of the recorded version, and ``verify``
reporting a reference whose remote identity changed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from artiflow import Artifact, Registry
from artiflow.exceptions import InvalidPathError, VerificationError


@pytest.fixture
def reg(tmp_path: Path) -> Any:
    with Registry(home=str(tmp_path / "home")) as registry:
        yield registry


def _problems(version: Any, root: Path) -> list[tuple[str, str]]:
    with pytest.raises(VerificationError) as info:
        version.verify(root)
    return info.value.problems


# ---- S3 --------------------------------------------------------------------------------------
def test_s3_versioned_object_pins_its_version(
    reg: Registry, s3fs_client: Any, s3_bucket: str, tmp_path: Path
) -> None:
    fs = s3fs_client
    fs.call_s3(
        "put_bucket_versioning", Bucket=s3_bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    fs.pipe_file(f"{s3_bucket}/data/x.csv", b"a,b\n1,2\n")
    art = Artifact("s3-ref", type="dataset")
    art.add_reference(f"s3://{s3_bucket}/data/x.csv")
    v = reg.log(art)
    entry = v.get_path("x.csv")
    assert entry.size == 8
    assert entry.ref == f"s3://{s3_bucket}/data/x.csv"
    assert set(entry.extra) >= {"etag", "version_id"}

    fs.pipe_file(f"{s3_bucket}/data/x.csv", b"changed content\n")  # a new version of the key
    root = v.download(tmp_path / "a")
    assert (root / "x.csv").read_bytes() == b"a,b\n1,2\n"  # the recorded version, not the latest
    v.verify(root)  # the pinned version is intact

    fs.call_s3(
        "delete_object", Bucket=s3_bucket, Key="data/x.csv", VersionId=entry.extra["version_id"]
    )
    assert ("reference changed", "x.csv") in _problems(v, root)
    with pytest.raises(VerificationError, match="gone"):
        v.download(tmp_path / "b")
    assert not (tmp_path / "b" / "x.csv").exists()


def test_s3_unversioned_object_change_is_reported(
    reg: Registry, s3fs_client: Any, s3_bucket: str, tmp_path: Path
) -> None:
    fs = s3fs_client
    fs.pipe_file(f"{s3_bucket}/m/model.bin", b"weights-1")
    art = Artifact("s3-plain", type="model")
    art.add_reference(f"s3://{s3_bucket}/m/model.bin", name="model.bin")
    v = reg.log(art)
    assert "version_id" not in v.get_path("model.bin").extra
    root = v.download(tmp_path / "a")
    v.verify(root)
    fs.pipe_file(f"{s3_bucket}/m/model.bin", b"weights-2")  # same size, new ETag
    assert ("reference changed", "model.bin") in _problems(v, root)
    with pytest.raises(VerificationError, match="ETag"):
        v.download(tmp_path / "b")
    assert not (tmp_path / "b" / "model.bin").exists()


def test_s3_prefix_expands_and_max_objects_is_an_error(
    reg: Registry, s3fs_client: Any, s3_bucket: str, tmp_path: Path
) -> None:
    fs = s3fs_client
    fs.call_s3(
        "put_bucket_versioning", Bucket=s3_bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    for i in range(5):
        fs.pipe_file(f"{s3_bucket}/raw/2024/part-{i}.csv", f"row {i}\n".encode())
    fs.pipe_file(f"{s3_bucket}/raw/2024/sub/deep.csv", b"deep\n")
    fs.pipe_file(f"{s3_bucket}/raw/2024x/other.csv", b"not under the prefix\n")

    too_small = Artifact("raw", type="dataset")
    too_small.add_reference(f"s3://{s3_bucket}/raw/2024/", name="raw", max_objects=5)
    with pytest.raises(InvalidPathError, match="more than 5 objects"):
        reg.log(too_small)
    with pytest.raises(LookupError):
        reg.get("raw")  # nothing was recorded

    art = Artifact("raw", type="dataset")
    art.add_reference(f"s3://{s3_bucket}/raw/2024", name="raw")  # no trailing slash: same
    v = reg.log(art)
    paths = sorted(v.manifest.entries)
    assert paths == [f"raw/part-{i}.csv" for i in range(5)] + ["raw/sub/deep.csv"]
    assert all("version_id" in e.extra for e in v.files())
    root = v.download(tmp_path / "dl")
    assert (root / "raw" / "sub" / "deep.csv").read_bytes() == b"deep\n"
    v.verify(root)

    nothing = Artifact("none", type="dataset")
    nothing.add_reference(f"s3://{s3_bucket}/no/such/prefix/")
    with pytest.raises(InvalidPathError, match="no object"):
        reg.log(nothing)


def test_reference_without_checksum(
    reg: Registry, s3fs_client: Any, s3_bucket: str, tmp_path: Path
) -> None:
    s3fs_client.pipe_file(f"{s3_bucket}/loose.txt", b"v1")
    art = Artifact("loose", type="dataset")
    art.add_reference(f"s3://{s3_bucket}/loose.txt", checksum=False)
    v = reg.log(art)
    entry = v.get_path("loose.txt")
    assert (entry.digest, entry.size, dict(entry.extra)) == (None, None, {})
    s3fs_client.pipe_file(f"{s3_bucket}/loose.txt", b"v2, longer")
    root = v.download(tmp_path / "a")  # whatever is there now: nothing was recorded to check
    assert (root / "loose.txt").read_bytes() == b"v2, longer"
    v.verify(root)


# ---- GCS -------------------------------------------------------------------------------------
def test_gcs_object_and_prefix(reg: Registry, gcs_bucket: str, tmp_path: Path) -> None:
    import gcsfs

    fs = gcsfs.GCSFileSystem(skip_instance_cache=True)  # STORAGE_EMULATOR_HOST from the fixture
    fs.pipe_file(f"{gcs_bucket}/d/a.csv", b"1,2\n")
    fs.pipe_file(f"{gcs_bucket}/d/b.csv", b"3,4\n")
    art = Artifact("gcs-ref", type="dataset")
    art.add_reference(f"gs://{gcs_bucket}/d/", name="d")
    art.add_reference(f"gs://{gcs_bucket}/d/a.csv", name="single.csv")
    v = reg.log(art)
    assert sorted(v.manifest.entries) == ["d/a.csv", "d/b.csv", "single.csv"]
    entry = v.get_path("single.csv")
    assert entry.size == 4
    assert {"md5", "crc32c", "generation"} <= set(entry.extra)
    root = v.download(tmp_path / "a")
    assert (root / "d" / "b.csv").read_bytes() == b"3,4\n"
    v.verify(root)

    too_many = Artifact("gcs-many", type="dataset")
    too_many.add_reference(f"gs://{gcs_bucket}/d/", max_objects=1)
    with pytest.raises(InvalidPathError, match="more than 1 objects"):
        reg.log(too_many)

    fs.pipe_file(f"{gcs_bucket}/d/a.csv", b"5,6\n")  # new generation, same size
    problems = _problems(v, root)
    assert ("reference changed", "single.csv") in problems
    assert ("reference changed", "d/a.csv") in problems
    # the recorded generation is asked for; the emulator cannot serve old generations, and
    # whatever it returns instead is caught by the md5/crc32c/size check, never handed out
    with pytest.raises(VerificationError):
        v.get_path("single.csv").download(tmp_path / "b")
    assert not (tmp_path / "b" / "single.csv").exists()


# ---- HTTP ------------------------------------------------------------------------------------
def test_http_reference_etag_and_length(reg: Registry, http_files: Any, tmp_path: Path) -> None:
    base, files = http_files
    files["/data/table.csv"] = b"id,value\n1,10\n"
    art = Artifact("web", type="dataset")
    art.add_reference(f"{base}/data/table.csv")
    art.add_reference(f"{base}/data/table.csv", name="unchecked.csv", checksum=False)
    v = reg.log(art)
    entry = v.get_path("table.csv")
    assert entry.size == 14
    assert entry.extra["etag"].startswith('"')
    assert dict(v.get_path("unchecked.csv").extra) == {}
    root = v.download(tmp_path / "a")
    assert (root / "table.csv").read_bytes() == b"id,value\n1,10\n"
    v.verify(root)

    files["/data/table.csv"] = b"id,value\n1,99\n"  # same length, new ETag
    assert ("reference changed", "table.csv") in _problems(v, root)
    with pytest.raises(VerificationError, match="changed"):
        v.get_path("table.csv").download(tmp_path / "b")
    assert not (tmp_path / "b" / "table.csv").exists()

    del files["/data/table.csv"]
    assert ("reference changed", "table.csv") in _problems(v, root)
    missing = Artifact("web-missing", type="dataset")
    missing.add_reference(f"{base}/nope.csv")
    with pytest.raises(InvalidPathError, match="does not exist"):
        reg.log(missing)


def test_http_reference_without_etag_is_hashed(
    reg: Registry, http_files: Any, tmp_path: Path
) -> None:
    """A server with no ETag and no Last-Modified: the content is hashed at log time (BLAKE3,
    streamed) and a same-size change is caught by verify and by download (issue 11, item 7)."""
    base, files = http_files
    files.etag = False
    files["/plain.csv"] = b"id,value\n1,10\n"
    art = Artifact("web-plain", type="dataset")
    art.add_reference(f"{base}/plain.csv")
    v = reg.log(art)
    entry = v.get_path("plain.csv")
    assert entry.size == 14 and "etag" not in entry.extra
    from artiflow.hashing import hash_bytes

    assert entry.digest == hash_bytes(b"id,value\n1,10\n")
    root = v.download(tmp_path / "a")
    v.verify(root)

    files["/plain.csv"] = b"id,value\n1,99\n"  # same size, nothing in the headers changed
    assert _problems(v, root) == [("reference changed", "plain.csv")]
    with pytest.raises(VerificationError, match="content hash changed"):
        v.download(tmp_path / "b")
    assert not (tmp_path / "b").exists()  # nothing half-written
    with pytest.raises(VerificationError, match="content hash changed"):
        v.get_path("plain.csv").download(tmp_path / "a2")
    files["/plain.csv"] = b"id,value\n1,10\n"  # back as logged: fine again
    v.verify(root)
    assert (v.download(tmp_path / "c") / "plain.csv").read_bytes() == b"id,value\n1,10\n"
