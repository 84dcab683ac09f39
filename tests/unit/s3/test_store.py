from __future__ import annotations

import hashlib
import os
import zlib
from base64 import b64encode
from pathlib import Path

import pytest

from sagemaker_emulator.aws.errors import AwsError
from sagemaker_emulator.services.s3 import errors
from sagemaker_emulator.services.s3.checksums import ChecksumRequest
from sagemaker_emulator.services.s3.multipart import MIN_PART_SIZE
from sagemaker_emulator.services.s3.store import ObjectStore
from sagemaker_emulator.state.database import Database

from .conftest import ACCOUNT


def crc32_b64(data: bytes) -> str:
    return b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


# -- buckets -------------------------------------------------------------------------------------


def test_bucket_lifecycle(store: ObjectStore) -> None:
    info = store.create_bucket("my-bucket")
    assert info.owner == ACCOUNT and info.region == "us-east-1"
    assert info.created.tzinfo is not None and info.created.microsecond == 0
    assert store.head_bucket("my-bucket") == info
    assert store.head_bucket("other") is None
    assert [b.name for b in store.list_buckets()] == ["my-bucket"]
    with pytest.raises(errors.BucketAlreadyOwnedByYou):
        store.create_bucket("my-bucket")
    store.put_object_bytes("my-bucket", "k", b"x")
    with pytest.raises(errors.BucketNotEmpty):
        store.delete_bucket("my-bucket")
    store.delete_object("my-bucket", "k")
    store.delete_bucket("my-bucket")
    with pytest.raises(errors.NoSuchBucket) as caught:
        store.get_bucket("my-bucket")
    assert caught.value.status == 404 and caught.value.fields == {"BucketName": "my-bucket"}


@pytest.mark.parametrize(
    "name",
    ["ab", "a" * 64, "Upper", "under_score", "-start", "end-", "two..dots", "192.168.5.4", "xn--abc",
     "abc-s3alias", "dot.-dash", "sthree-x", "bucket--ol-s3", ""],
)
def test_invalid_bucket_names(store: ObjectStore, name: str) -> None:
    with pytest.raises(AwsError) as caught:
        store.create_bucket(name)
    assert caught.value.code == "InvalidBucketName"


@pytest.mark.parametrize("name", ["abc", "a" * 63, "my.bucket-1", "sagemaker-us-east-1-123456789012", "1.2.3"])
def test_valid_bucket_names(store: ObjectStore, name: str) -> None:
    store.create_bucket(name)


def test_missing_bucket_and_key(store: ObjectStore) -> None:
    with pytest.raises(errors.NoSuchBucket):
        store.head_object("nope", "k")
    with pytest.raises(errors.NoSuchBucket):
        store.put_object_bytes("nope", "k", b"")
    with pytest.raises(errors.NoSuchBucket):
        store.list_objects("nope")
    store.create_bucket("b1b")
    with pytest.raises(errors.NoSuchKey) as caught:
        store.head_object("b1b", "missing")
    assert caught.value.code == "NoSuchKey" and caught.value.fields == {"Key": "missing"}
    assert store.find_object("b1b", "missing") is None
    assert store.delete_object("b1b", "missing") is False


# -- objects -------------------------------------------------------------------------------------


def test_put_get_overwrite(store: ObjectStore) -> None:
    store.create_bucket("bkt")
    first = store.put_object_bytes("bkt", "a/b.csv", b"1,2\n", content_type="text/csv", metadata={"Mixed": "v"})
    assert first.etag == '"%s"' % hashlib.md5(b"1,2\n").hexdigest()
    assert first.size == 4 and first.content_type == "text/csv" and first.metadata == {"mixed": "v"}
    assert store.get_object_bytes("bkt", "a/b.csv") == b"1,2\n"
    old_path = store.object_path("bkt", "a/b.csv")
    second = store.put_object_bytes("bkt", "a/b.csv", b"new content")
    assert second.content_type == "binary/octet-stream"
    assert store.get_object_bytes("bkt", "a/b.csv") == b"new content"
    new_path = store.object_path("bkt", "a/b.csv")
    assert new_path != old_path
    # The old blob survives the grace period (a reader may hold its path), then goes.
    assert old_path.read_bytes() == b"1,2\n"
    store.reap_garbage(older_than=-1)
    assert not old_path.exists()
    assert new_path.read_bytes() == b"new content"


def test_empty_object(store: ObjectStore) -> None:
    store.create_bucket("bkt")
    info = store.put_object_bytes("bkt", "empty", b"")
    assert info.size == 0 and info.etag == '"d41d8cd98f00b204e9800998ecf8427e"'
    assert store.get_object_bytes("bkt", "empty") == b""


@pytest.mark.parametrize(
    "key", ["../../etc/passwd", "a/../../b", "/absolute/path", "..", "./.", "a//b", "\\..\\..\\x", "ü/ß/../..%2F"]
)
def test_keys_never_become_paths(store: ObjectStore, tmp_path: Path, key: str) -> None:
    store.create_bucket("bkt")
    outside_before = files_under(tmp_path) - files_under(store.root)
    info = store.put_object_bytes("bkt", key, b"payload " + key.encode())
    path = store.object_path("bkt", key)
    assert path.resolve().is_relative_to(store.root.resolve())
    assert path.name == info.blob_id and key not in str(path)
    assert store.get_object_bytes("bkt", key) == b"payload " + key.encode()
    outside_after = files_under(tmp_path) - files_under(store.root)
    assert outside_after == outside_before  # only the database files live outside the store root
    assert [o.key for o in store.list_objects("bkt")] == [key]
    assert store.delete_object("bkt", key)


def test_blob_paths_reject_non_ids(store: ObjectStore) -> None:
    for bad in ("../x", "a" * 32 + "/..", "ABCDEF" * 6, ""):
        with pytest.raises(ValueError):
            store.blobs.path(bad)


def test_failed_write_leaves_nothing(store: ObjectStore) -> None:
    store.create_bucket("bkt")
    store.put_object_bytes("bkt", "k", b"original")
    before = files_under(store.root)

    def exploding():
        yield b"partial data"
        raise OSError("client went away")

    with pytest.raises(OSError):
        store.put_object("bkt", "k", exploding())
    assert store.get_object_bytes("bkt", "k") == b"original"
    assert files_under(store.root) == before

    with pytest.raises(AwsError) as caught:
        store.put_object("bkt", "k", b"data", checksum=ChecksumRequest("CRC32", crc32_b64(b"other")))
    assert caught.value.code == "BadDigest"
    with pytest.raises(AwsError) as caught:
        store.put_object("bkt", "k", b"data", content_md5=hashlib.md5(b"other").digest())
    assert caught.value.code == "BadDigest"
    assert store.get_object_bytes("bkt", "k") == b"original"
    assert files_under(store.root) == before


def test_checksums_verified_and_kept(store: ObjectStore) -> None:
    store.create_bucket("bkt")
    data = os.urandom(1000)
    info = store.put_object("bkt", "k", data, checksum=ChecksumRequest("CRC32", crc32_b64(data)))
    assert info.checksum is not None
    assert (info.checksum.algorithm, info.checksum.value, info.checksum.type) == ("CRC32", crc32_b64(data), "FULL_OBJECT")
    sha = b64encode(hashlib.sha256(data).digest()).decode()
    info = store.put_object("bkt", "k2", data, checksum=ChecksumRequest("SHA256", sha))
    assert info.checksum.value == sha
    # An algorithm without a value: S3 computes it.
    info = store.put_object("bkt", "k3", data, checksum=ChecksumRequest("CRC32", None))
    assert info.checksum.value == crc32_b64(data)
    with pytest.raises(AwsError) as caught:
        store.put_object("bkt", "k4", data, checksum=ChecksumRequest("SHA1", b64encode(b"x" * 20).decode()))
    assert caught.value.code == "BadDigest" and "sha1" in caught.value.message


def test_conditional_writes(store: ObjectStore) -> None:
    store.create_bucket("bkt")
    first = store.put_object("bkt", "k", b"1", if_none_match="*")
    with pytest.raises(errors.PreconditionFailed):
        store.put_object("bkt", "k", b"2", if_none_match="*")
    with pytest.raises(errors.PreconditionFailed):
        store.put_object("bkt", "k", b"2", if_match='"0000"')
    store.put_object("bkt", "k", b"3", if_match=first.etag)
    with pytest.raises(errors.NoSuchKey):
        store.put_object("bkt", "absent", b"x", if_match=first.etag)
    assert store.get_object_bytes("bkt", "k") == b"3"


def test_put_from_file_copy_and_move(store: ObjectStore, tmp_path: Path) -> None:
    store.create_bucket("bkt")
    source = tmp_path / "model.tar.gz"
    source.write_bytes(b"tarball")
    info = store.put_object_from_file("bkt", "out/model.tar.gz", source)
    assert source.exists() and info.etag == '"%s"' % hashlib.md5(b"tarball").hexdigest()
    moved = store.put_object_from_file("bkt", "out/moved", source, move=True)
    assert not source.exists()
    assert store.get_object_bytes("bkt", "out/moved") == b"tarball" and moved.size == 7
    for key in ("out/model.tar.gz", "out/moved"):
        assert store.object_path("bkt", key).stat().st_mode & 0o777 == 0o644


def test_hard_links_survive_overwrite_and_delete(store: ObjectStore, tmp_path: Path) -> None:
    store.create_bucket("bkt")
    store.put_object_bytes("bkt", "data.csv", b"v1")
    workspace = tmp_path / "job"
    workspace.mkdir()
    store.link_object("bkt", "data.csv", workspace / "data.csv")
    os.link(store.object_path("bkt", "data.csv"), workspace / "linked-by-caller")
    store.put_object_bytes("bkt", "data.csv", b"v2")
    store.delete_object("bkt", "data.csv")
    store.reap_garbage(older_than=-1)
    assert (workspace / "data.csv").read_bytes() == b"v1"
    assert (workspace / "linked-by-caller").read_bytes() == b"v1"


def test_open_object_is_stable(store: ObjectStore) -> None:
    store.create_bucket("bkt")
    store.put_object_bytes("bkt", "k", b"one")
    info, handle = store.open_object("bkt", "k")
    store.put_object_bytes("bkt", "k", b"two")
    store.reap_garbage(older_than=-1)
    with handle:
        assert handle.read() == b"one"
    assert info.size == 3


def test_copy_object_shares_bytes(store: ObjectStore) -> None:
    store.create_bucket("src")
    store.create_bucket("dst")
    source = store.put_object_bytes("src", "a", b"abc", content_type="text/plain", metadata={"k": "v"})
    copy = store.copy_object(source, "dst", "b")
    assert (copy.etag, copy.content_type, copy.metadata) == (source.etag, "text/plain", {"k": "v"})
    assert store.object_path("dst", "b").stat().st_ino == store.object_path("src", "a").stat().st_ino
    replaced = store.copy_object(source, "dst", "c", content_type="application/json", metadata={})
    assert replaced.content_type == "application/json" and replaced.metadata == {}
    store.delete_object("src", "a")
    store.reap_garbage(older_than=-1)
    assert store.get_object_bytes("dst", "b") == b"abc"


# -- listing -------------------------------------------------------------------------------------


def test_listing_order_prefix_and_batches(store: ObjectStore) -> None:
    store.create_bucket("bkt")
    keys = ["b", "a", "a/2", "a/1", "a0", "é", "z", "~", "\U0001f600", "A", "a/10", "a\u00ff", "aa"]
    for key in keys:
        store.put_object_bytes("bkt", key, key.encode())
    expected = sorted(keys, key=lambda k: k.encode("utf-8"))
    assert [o.key for o in store.list_objects("bkt")] == expected
    assert [o.key for o in store.iter_objects("bkt", batch=2)] == expected
    assert [o.key for o in store.list_objects("bkt", "a/")] == ["a/1", "a/10", "a/2"]
    assert [o.key for o in store.list_objects("bkt", "a")] == [k for k in expected if k.startswith("a")]
    assert [o.key for o in store.list_objects("bkt", "a", start_after="a/2")] == ["a0", "aa", "a\u00ff"]
    assert [o.key for o in store.iter_objects("bkt", at="z")] == ["z", "~", "é", "\U0001f600"]
    assert list(store.list_objects("bkt", "nothing-here")) == []


# -- restart -------------------------------------------------------------------------------------


def test_restart_keeps_everything_and_sweeps_orphans(db: Database, tmp_path: Path) -> None:
    root = tmp_path / "s3"
    store = ObjectStore(db, root, ACCOUNT, "us-east-1")
    store.create_bucket("bkt")
    store.put_object_bytes("bkt", "keep", b"kept")
    upload = store.uploads.create("bkt", "mp")
    store.uploads.upload_part("bkt", "mp", upload.upload_id, 1, b"part")
    store.put_object_bytes("bkt", "replaced", b"old")
    store.put_object_bytes("bkt", "replaced", b"new")
    # What a crash can leave behind: a temporary file and a blob whose row was never committed.
    (root / "tmp" / "w-crashed").write_bytes(b"half")
    orphan = store.blobs.write_bytes(b"orphan")

    reopened = ObjectStore(db, root, ACCOUNT, "us-east-1")
    assert reopened.get_object_bytes("bkt", "keep") == b"kept"
    assert reopened.get_object_bytes("bkt", "replaced") == b"new"
    assert [p.part_number for p in reopened.uploads.list_parts(upload.upload_id)] == [1]
    assert not orphan.path.exists()
    assert list((root / "tmp").iterdir()) == []
    blob_files = {p.name for p in (root / "blobs").rglob("*") if p.is_file()}
    referenced = {o.blob_id for o in reopened.list_objects("bkt")} | {
        p.blob_id for p in reopened.uploads.list_parts(upload.upload_id)
    }
    assert blob_files == referenced


# -- multipart -----------------------------------------------------------------------------------


def _parts(sizes: list[int]) -> list[bytes]:
    return [os.urandom(size) for size in sizes]


def test_multipart_etag_and_composite_checksum(store: ObjectStore) -> None:
    store.create_bucket("bkt")
    upload = store.uploads.create("bkt", "big", content_type="text/csv", checksum_algorithm="CRC32",
                                  checksum_type="COMPOSITE")
    bodies = _parts([MIN_PART_SIZE, MIN_PART_SIZE + 1, 10])
    listed = []
    for number, body in sorted(enumerate(bodies, 1), reverse=True):  # parts may arrive in any order
        part = store.uploads.upload_part("bkt", "big", upload.upload_id, number, body,
                                         checksum=ChecksumRequest("CRC32", crc32_b64(body)))
        assert part.etag == '"%s"' % hashlib.md5(body).hexdigest()
        assert part.checksum == crc32_b64(body)
        listed.append({"PartNumber": number, "ETag": part.etag, "ChecksumCRC32": part.checksum})
    info = store.uploads.complete("bkt", "big", upload.upload_id, sorted(listed, key=lambda p: p["PartNumber"]))
    md5s = b"".join(hashlib.md5(body).digest() for body in bodies)
    assert info.etag == '"%s-3"' % hashlib.md5(md5s).hexdigest()
    crcs = b"".join(zlib.crc32(body).to_bytes(4, "big") for body in bodies)
    assert info.checksum.value == crc32_b64(crcs) + "-3" and info.checksum.type == "COMPOSITE"
    assert info.part_sizes == tuple(len(b) for b in bodies) and info.content_type == "text/csv"
    assert store.get_object_bytes("bkt", "big") == b"".join(bodies)
    with pytest.raises(errors.NoSuchUpload):
        store.uploads.get("bkt", "big", upload.upload_id)
    # The parts' blobs are garbage now.
    store.reap_garbage(older_than=-1)
    assert {p.name for p in (store.root / "blobs").rglob("*") if p.is_file()} == {info.blob_id}


def test_multipart_full_object_checksum(store: ObjectStore) -> None:
    store.create_bucket("bkt")
    upload = store.uploads.create("bkt", "k", checksum_algorithm="CRC32", checksum_type="FULL_OBJECT")
    bodies = _parts([MIN_PART_SIZE, 100])
    parts = [
        {"PartNumber": n, "ETag": store.uploads.upload_part("bkt", "k", upload.upload_id, n, b).etag}
        for n, b in enumerate(bodies, 1)
    ]
    info = store.uploads.complete("bkt", "k", upload.upload_id, parts)
    assert info.checksum.value == crc32_b64(b"".join(bodies)) and info.checksum.type == "FULL_OBJECT"


def test_multipart_errors(store: ObjectStore) -> None:
    store.create_bucket("bkt")
    upload = store.uploads.create("bkt", "k")
    small = store.uploads.upload_part("bkt", "k", upload.upload_id, 1, b"tiny")
    last = store.uploads.upload_part("bkt", "k", upload.upload_id, 2, b"last")
    with pytest.raises(AwsError) as caught:
        store.uploads.complete("bkt", "k", upload.upload_id, [{"PartNumber": 2, "ETag": last.etag},
                                                              {"PartNumber": 1, "ETag": small.etag}])
    assert caught.value.code == "InvalidPartOrder"
    with pytest.raises(AwsError) as caught:
        store.uploads.complete("bkt", "k", upload.upload_id, [{"PartNumber": 1, "ETag": '"beef"'}])
    assert caught.value.code == "InvalidPart"
    with pytest.raises(AwsError) as caught:
        store.uploads.complete("bkt", "k", upload.upload_id, [{"PartNumber": 3, "ETag": last.etag}])
    assert caught.value.code == "InvalidPart"
    with pytest.raises(AwsError) as caught:
        store.uploads.complete("bkt", "k", upload.upload_id, [{"PartNumber": 1, "ETag": small.etag},
                                                              {"PartNumber": 2, "ETag": last.etag}])
    assert caught.value.code == "EntityTooSmall" and caught.value.fields["PartNumber"] == "1"
    with pytest.raises(AwsError) as caught:
        store.uploads.complete("bkt", "k", upload.upload_id, [])
    assert caught.value.code == "MalformedXML"
    with pytest.raises(AwsError) as caught:
        store.uploads.upload_part("bkt", "k", upload.upload_id, 10001, b"")
    assert caught.value.code == "InvalidArgument"
    with pytest.raises(errors.NoSuchUpload):
        store.uploads.upload_part("bkt", "other-key", upload.upload_id, 1, b"")
    # A single (last) part may be small.
    info = store.uploads.complete("bkt", "k", upload.upload_id, [{"PartNumber": 2, "ETag": last.etag.strip('"')}])
    assert store.get_object_bytes("bkt", "k") == b"last" and info.etag.endswith('-1"')


def test_abort_and_list_uploads(store: ObjectStore) -> None:
    store.create_bucket("bkt")
    first = store.uploads.create("bkt", "a/1")
    second = store.uploads.create("bkt", "b")
    store.uploads.upload_part("bkt", "b", second.upload_id, 1, b"x")
    assert [u.key for u in store.uploads.list_uploads("bkt")] == ["a/1", "b"]
    assert [u.key for u in store.uploads.list_uploads("bkt", prefix="a/")] == ["a/1"]
    assert [u.key for u in store.uploads.list_uploads("bkt", key_marker="a/1")] == ["b"]
    store.uploads.abort("bkt", "b", second.upload_id)
    with pytest.raises(errors.NoSuchUpload):
        store.uploads.abort("bkt", "b", second.upload_id)
    assert [u.upload_id for u in store.uploads.list_uploads("bkt")] == [first.upload_id]
    # Deleting the bucket drops unfinished uploads with it.
    store.delete_bucket("bkt")
    assert store.db.query("SELECT * FROM s3_uploads") == []


def test_copy_of_multipart_object_is_single_part(store: ObjectStore) -> None:
    store.create_bucket("bkt")
    upload = store.uploads.create("bkt", "mp", checksum_algorithm="CRC32", checksum_type="COMPOSITE")
    bodies = _parts([MIN_PART_SIZE, 3])
    parts = []
    for n, body in enumerate(bodies, 1):
        part = store.uploads.upload_part("bkt", "mp", upload.upload_id, n, body)
        parts.append({"PartNumber": n, "ETag": part.etag})
    source = store.uploads.complete("bkt", "mp", upload.upload_id, parts)
    copy = store.copy_object(source, "bkt", "copy")
    whole = b"".join(bodies)
    assert copy.etag == '"%s"' % hashlib.md5(whole).hexdigest() and copy.part_sizes == ()
    assert copy.checksum.value == crc32_b64(whole) and copy.checksum.type == "FULL_OBJECT"
