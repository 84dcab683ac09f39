"""The object store behind S3: buckets and objects, metadata in SQLite, bytes in immutable blob files.

This is the API the S3 handlers use, and the one other services (training input channels, model
artifacts) use directly::

    store = ObjectStore(db, data_dir / "s3", account_id, region)
    store.create_bucket("data")
    store.put_object_bytes("data", "train/a.csv", b"1,2\\n", content_type="text/csv")
    for info in store.list_objects("data", "train/"):         # sorted by key, an SQL range scan
        path = store.object_path(info.bucket, info.key)       # immutable: safe to hard-link

Guarantees:

* Object bytes live in files named by random ids (:mod:`sagemaker_emulator.state.blobs`); keys are
  only ever data in SQLite, so a key such as ``../../etc/passwd`` cannot touch any file.
* A blob is written to a temporary file, fsynced and renamed before its row is committed, so an
  object appears whole or not at all, and a crash leaves at worst an unreferenced file that the
  next start removes.
* Blob files are never modified. Overwriting or deleting an object replaces or removes its row in
  one transaction and queues the old file for deletion after a grace period
  (``garbage_grace_seconds``), so a reader that just resolved a path (a streaming GET) still finds
  it, and hard links taken by running jobs stay valid for ever.
* Everything (rows and files) is under ``root`` and the database: a restart loses nothing.

Errors are S3's own (:mod:`sagemaker_emulator.services.s3.errors`): ``NoSuchBucket``,
``NoSuchKey``, ``BucketNotEmpty``, ... all :class:`~sagemaker_emulator.aws.errors.AwsError`.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator, Union

from sagemaker_emulator.services.s3 import errors
from sagemaker_emulator.services.s3.checksums import (
    ChecksumRequest,
    Digester,
    strip_etag,
    verify_content_md5,
)
from sagemaker_emulator.services.s3.listing import prefix_successor
from sagemaker_emulator.services.s3.models import (
    MAX_KEY_BYTES,
    BucketInfo,
    Checksum,
    ObjectInfo,
    canonical_user_id,
    is_valid_bucket_name,
    timestamp,
)
from sagemaker_emulator.state.blobs import BlobStore, read_chunks
from sagemaker_emulator.state.database import Database

Body = Union[bytes, bytearray, memoryview, BinaryIO, Iterable[bytes], None]
DEFAULT_CONTENT_TYPE = "binary/octet-stream"

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS s3_buckets (
        name TEXT PRIMARY KEY,
        region TEXT NOT NULL,
        owner TEXT NOT NULL,
        created REAL NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS s3_objects (
        bucket TEXT NOT NULL,
        key TEXT NOT NULL,
        blob TEXT NOT NULL,
        size INTEGER NOT NULL,
        etag TEXT NOT NULL,
        last_modified REAL NOT NULL,
        content_type TEXT NOT NULL,
        metadata TEXT NOT NULL,
        headers TEXT NOT NULL,
        checksum_algorithm TEXT,
        checksum TEXT,
        checksum_type TEXT,
        part_sizes TEXT,
        PRIMARY KEY (bucket, key)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS s3_uploads (
        upload_id TEXT PRIMARY KEY,
        bucket TEXT NOT NULL,
        key TEXT NOT NULL,
        initiated REAL NOT NULL,
        content_type TEXT,
        metadata TEXT NOT NULL,
        headers TEXT NOT NULL,
        checksum_algorithm TEXT,
        checksum_type TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS s3_uploads_by_key ON s3_uploads (bucket, key, initiated)",
    """CREATE TABLE IF NOT EXISTS s3_parts (
        upload_id TEXT NOT NULL,
        part_number INTEGER NOT NULL,
        blob TEXT NOT NULL,
        size INTEGER NOT NULL,
        etag TEXT NOT NULL,
        checksum TEXT,
        last_modified REAL NOT NULL,
        PRIMARY KEY (upload_id, part_number)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS s3_garbage (
        blob TEXT PRIMARY KEY,
        since REAL NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS s3_garbage_by_age ON s3_garbage (since)",
)

_OBJECT_COLUMNS = (
    "bucket, key, blob, size, etag, last_modified, content_type, metadata, headers, "
    "checksum_algorithm, checksum, checksum_type, part_sizes"
)


class ObjectStore:
    """Buckets and objects of one account, durable under ``root`` and ``db``.

    Construct one per data directory per process: at construction (unless ``sweep=False``) it
    deletes temporary files, discarded blobs and blobs no row references, which is only safe while
    nothing else writes to ``root``.
    """

    def __init__(
        self,
        db: Database,
        root: Path,
        account_id: str,
        region: str,
        *,
        garbage_grace_seconds: float = 60.0,
        sweep: bool = True,
    ) -> None:
        from sagemaker_emulator.services.s3.multipart import MultipartUploads

        self.db = db
        self.root = Path(root)
        self.account_id = account_id
        self.region = region
        self.owner_id = canonical_user_id(account_id)
        self.garbage_grace_seconds = garbage_grace_seconds
        self.blobs = BlobStore(self.root)
        db.ensure_schema(SCHEMA)
        self.uploads = MultipartUploads(self)
        self._last_reap = 0.0
        if sweep:
            self._recover()

    # -- buckets ------------------------------------------------------------------------------

    def create_bucket(self, name: str, region: str | None = None, owner: str | None = None) -> BucketInfo:
        """Create ``name`` (owned by the emulator's account unless ``owner`` says otherwise);
        InvalidBucketName, or BucketAlreadyOwnedByYou when it exists."""
        if not is_valid_bucket_name(name):
            raise errors.invalid_bucket_name(name)
        created = float(int(time.time()))
        region = region or self.region
        owner = owner or self.account_id
        with self.db.transaction() as connection:
            if connection.execute("SELECT 1 FROM s3_buckets WHERE name = ?", (name,)).fetchone():
                raise errors.BucketAlreadyOwnedByYou(name)
            connection.execute(
                "INSERT INTO s3_buckets (name, region, owner, created) VALUES (?, ?, ?, ?)",
                (name, region, owner, created),
            )
        return BucketInfo(name, region, owner, timestamp(created))

    def head_bucket(self, name: str) -> BucketInfo | None:
        """The bucket, or None when it does not exist."""
        row = self.db.query_one("SELECT name, region, owner, created FROM s3_buckets WHERE name = ?", (name,))
        return None if row is None else BucketInfo(row["name"], row["region"], row["owner"], timestamp(row["created"]))

    def get_bucket(self, name: str) -> BucketInfo:
        """The bucket; NoSuchBucket when it does not exist."""
        bucket = self.head_bucket(name)
        if bucket is None:
            raise errors.NoSuchBucket(name)
        return bucket

    def bucket_exists(self, name: str) -> bool:
        return self.head_bucket(name) is not None

    def list_buckets(self) -> list[BucketInfo]:
        rows = self.db.query("SELECT name, region, owner, created FROM s3_buckets ORDER BY name")
        return [BucketInfo(r["name"], r["region"], r["owner"], timestamp(r["created"])) for r in rows]

    def delete_bucket(self, name: str) -> None:
        """Delete an empty bucket (its unfinished multipart uploads go with it)."""
        now = time.time()
        with self.db.transaction() as connection:
            if not connection.execute("SELECT 1 FROM s3_buckets WHERE name = ?", (name,)).fetchone():
                raise errors.NoSuchBucket(name)
            if connection.execute("SELECT 1 FROM s3_objects WHERE bucket = ? LIMIT 1", (name,)).fetchone():
                raise errors.BucketNotEmpty(name)
            parts = connection.execute(
                "SELECT p.blob FROM s3_parts p JOIN s3_uploads u ON u.upload_id = p.upload_id WHERE u.bucket = ?",
                (name,),
            ).fetchall()
            self._discard(connection, [row["blob"] for row in parts], now)
            connection.execute(
                "DELETE FROM s3_parts WHERE upload_id IN (SELECT upload_id FROM s3_uploads WHERE bucket = ?)",
                (name,),
            )
            connection.execute("DELETE FROM s3_uploads WHERE bucket = ?", (name,))
            connection.execute("DELETE FROM s3_buckets WHERE name = ?", (name,))

    # -- reading objects ----------------------------------------------------------------------

    def find_object(self, bucket: str, key: str) -> ObjectInfo | None:
        """The object, or None when the key does not exist; NoSuchBucket when the bucket does not."""
        row = self.db.query_one(
            f"SELECT {_OBJECT_COLUMNS} FROM s3_objects WHERE bucket = ? AND key = ?", (bucket, key)
        )
        if row is None:
            self.get_bucket(bucket)
            return None
        return _object_from_row(row)

    def find_object_or_none(self, bucket: str, key: str) -> ObjectInfo | None:
        """The object, or None when either the bucket or the key does not exist."""
        row = self.db.query_one(
            f"SELECT {_OBJECT_COLUMNS} FROM s3_objects WHERE bucket = ? AND key = ?", (bucket, key)
        )
        return None if row is None else _object_from_row(row)

    def head_object(self, bucket: str, key: str) -> ObjectInfo:
        """The object's metadata; NoSuchBucket or NoSuchKey."""
        info = self.find_object(bucket, key)
        if info is None:
            raise errors.NoSuchKey(key)
        return info

    def object_path(self, bucket: str, key: str) -> Path:
        """The immutable file holding the object's bytes (hard-link or read it; never write to it)."""
        return self.blobs.path(self.head_object(bucket, key).blob_id)

    def open_object(self, bucket: str, key: str) -> tuple[ObjectInfo, BinaryIO]:
        """The object's metadata and an open binary file of exactly those bytes."""
        for attempt in range(3):
            info = self.head_object(bucket, key)
            try:
                return info, self.blobs.open(info.blob_id)
            except FileNotFoundError:  # overwritten and reaped in between: look again
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def get_object_bytes(self, bucket: str, key: str) -> bytes:
        _, handle = self.open_object(bucket, key)
        with handle:
            return handle.read()

    def link_object(self, bucket: str, key: str, destination: Path) -> ObjectInfo:
        """Hard-link (or copy) the object's bytes to ``destination``; returns what was linked."""
        for attempt in range(3):
            info = self.head_object(bucket, key)
            try:
                self.blobs.link_to(info.blob_id, destination)
                return info
            except FileNotFoundError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def list_objects(self, bucket: str, prefix: str = "", start_after: str | None = None) -> Iterator[ObjectInfo]:
        """Every object of ``bucket`` whose key starts with ``prefix`` (and sorts after
        ``start_after``), in S3's order (UTF-8 bytes). NoSuchBucket is raised at once."""
        self.get_bucket(bucket)
        return self.iter_objects(bucket, prefix, after=start_after)

    def iter_objects(
        self,
        bucket: str,
        prefix: str = "",
        *,
        after: str | None = None,
        at: str | None = None,
        batch: int = 1000,
        first_batch: int | None = None,
    ) -> Iterator[ObjectInfo]:
        """Objects with keys starting with ``prefix``, ``> after`` and ``>= at``, sorted by key.

        Fetched with index range scans of ``first_batch`` rows, doubling up to ``batch`` (callers
        that may stop early ask for a small first batch); no lock is held in between.
        """
        conditions = ["bucket = ?"]
        values: list[Any] = [bucket]
        if prefix:
            conditions.append("key >= ?")
            values.append(prefix)
            upper = prefix_successor(prefix)
            if upper is not None:
                conditions.append("key < ?")
                values.append(upper)
        if at is not None:
            conditions.append("key >= ?")
            values.append(at)
        base = " AND ".join(conditions)
        last = after
        size = max(1, min(first_batch or batch, batch))
        while True:
            where, args = base, list(values)
            if last is not None:
                where += " AND key > ?"
                args.append(last)
            rows = self.db.query(
                f"SELECT {_OBJECT_COLUMNS} FROM s3_objects WHERE {where} ORDER BY key LIMIT ?", [*args, size]
            )
            for row in rows:
                yield _object_from_row(row)
            if len(rows) < size:
                return
            last = rows[-1]["key"]
            size = min(size * 2, batch)

    # -- writing objects ----------------------------------------------------------------------

    def put_object(
        self,
        bucket: str,
        key: str,
        body: Body,
        *,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        headers: dict[str, Any] | None = None,
        checksum: ChecksumRequest | None = None,
        content_md5: bytes | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
    ) -> ObjectInfo:
        """Store ``body`` (bytes, a binary file or an iterable of chunks) under ``key``.

        ``checksum`` (algorithm and optional value) is computed and verified (BadDigest), as is the
        raw ``content_md5``; ``if_match``/``if_none_match`` make the write conditional
        (PreconditionFailed / NoSuchKey), checked atomically with the commit.
        """
        validate_key(key)
        self.get_bucket(bucket)
        if if_match is not None or if_none_match is not None:  # fail early; checked again at commit
            check_write_conditions(self.find_object(bucket, key), key, if_match, if_none_match)
        checksum = checksum or ChecksumRequest(None, None)
        digester = Digester([checksum.algorithm])
        blob = self.blobs.write(body_chunks(body), digester)
        try:
            verify_content_md5(content_md5, digester)
            value = checksum.verify(digester)
            info = ObjectInfo(
                bucket=bucket,
                key=key,
                size=blob.size,
                etag=digester.etag,
                last_modified=timestamp(int(time.time())),
                content_type=content_type or DEFAULT_CONTENT_TYPE,
                metadata=normalise_metadata(metadata),
                headers=dict(headers or {}),
                checksum=Checksum(checksum.algorithm, value, "FULL_OBJECT") if value and checksum.algorithm else None,
                blob_id=blob.id,
            )
            self.commit_object(info, if_match=if_match, if_none_match=if_none_match)
        except BaseException:
            self.blobs.delete(blob.id)
            raise
        return info

    def put_object_bytes(
        self,
        bucket: str,
        key: str,
        data: bytes,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> ObjectInfo:
        return self.put_object(bucket, key, data, content_type=content_type, metadata=metadata)

    def put_object_from_file(
        self,
        bucket: str,
        key: str,
        source_path: Path,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        move: bool = False,
    ) -> ObjectInfo:
        """Store the file at ``source_path``; with ``move=True`` the file itself is moved in
        (renamed when on the same filesystem) instead of copied."""
        if not move:
            with open(source_path, "rb") as handle:
                return self.put_object(bucket, key, handle, content_type=content_type, metadata=metadata)
        validate_key(key)
        self.get_bucket(bucket)
        digester = Digester()
        blob = self.blobs.adopt(Path(source_path), digester)
        try:
            info = ObjectInfo(
                bucket=bucket,
                key=key,
                size=blob.size,
                etag=digester.etag,
                last_modified=timestamp(int(time.time())),
                content_type=content_type or DEFAULT_CONTENT_TYPE,
                metadata=normalise_metadata(metadata),
                blob_id=blob.id,
            )
            self.commit_object(info)
        except BaseException:
            self.blobs.delete(blob.id)
            raise
        return info

    def copy_object(
        self,
        source: ObjectInfo,
        bucket: str,
        key: str,
        *,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        headers: dict[str, Any] | None = None,
        checksum_algorithm: str | None = None,
    ) -> ObjectInfo:
        """Copy ``source`` (as returned by :meth:`head_object`) to ``bucket``/``key``.

        The bytes are shared through a hard link; ``content_type``/``metadata``/``headers`` of None
        keep the source's. A multipart source becomes a single-part object (a plain MD5 ETag).
        """
        validate_key(key)
        self.get_bucket(bucket)
        blob = self.blobs.link(source.blob_id)
        try:
            algorithm = checksum_algorithm or (source.checksum.algorithm if source.checksum else None)
            etag, checksum = source.etag, source.checksum
            needs_read = bool(source.part_sizes) or (
                algorithm is not None and (checksum is None or checksum.algorithm != algorithm
                                           or checksum.type != "FULL_OBJECT")
            )
            if needs_read:
                digester = Digester([algorithm])
                with self.blobs.open(blob.id) as handle:
                    for chunk in read_chunks(handle):
                        digester.update(chunk)
                etag = digester.etag
                value = digester.checksum(algorithm) if algorithm else None
                checksum = Checksum(algorithm, value, "FULL_OBJECT") if value and algorithm else None
            info = ObjectInfo(
                bucket=bucket,
                key=key,
                size=source.size,
                etag=etag,
                last_modified=timestamp(int(time.time())),
                content_type=source.content_type if content_type is None else content_type,
                metadata=dict(source.metadata) if metadata is None else normalise_metadata(metadata),
                headers=dict(source.headers) if headers is None else dict(headers),
                checksum=checksum,
                blob_id=blob.id,
            )
            self.commit_object(info)
        except BaseException:
            self.blobs.delete(blob.id)
            raise
        return info

    def delete_object(self, bucket: str, key: str) -> bool:
        """Delete the object; True if it existed. NoSuchBucket when the bucket does not exist."""
        with self.db.transaction() as connection:
            row = connection.execute(
                "SELECT blob FROM s3_objects WHERE bucket = ? AND key = ?", (bucket, key)
            ).fetchone()
            if row is None:
                if not connection.execute("SELECT 1 FROM s3_buckets WHERE name = ?", (bucket,)).fetchone():
                    raise errors.NoSuchBucket(bucket)
                return False
            connection.execute("DELETE FROM s3_objects WHERE bucket = ? AND key = ?", (bucket, key))
            self._discard(connection, [row["blob"]], time.time())
        self._maybe_reap()
        return True

    def commit_object(self, info: ObjectInfo, *, if_match: str | None = None, if_none_match: str | None = None) -> None:
        """Make ``info`` (whose blob is already written) the current object, in one transaction;
        the replaced object's blob is queued for deletion."""
        with self.db.transaction() as connection:
            if not connection.execute("SELECT 1 FROM s3_buckets WHERE name = ?", (info.bucket,)).fetchone():
                raise errors.NoSuchBucket(info.bucket)
            row = connection.execute(
                "SELECT blob, etag FROM s3_objects WHERE bucket = ? AND key = ?", (info.bucket, info.key)
            ).fetchone()
            if if_match is not None or if_none_match is not None:
                current = None if row is None else _Etag(row["etag"])
                check_write_conditions(current, info.key, if_match, if_none_match)
            connection.execute(
                f"INSERT OR REPLACE INTO s3_objects ({_OBJECT_COLUMNS}) VALUES ({', '.join('?' * 13)})",
                _object_to_row(info),
            )
            if row is not None and row["blob"] != info.blob_id:
                self._discard(connection, [row["blob"]], time.time())
        self._maybe_reap()

    # -- garbage ------------------------------------------------------------------------------

    def _discard(self, connection: Any, blob_ids: Iterable[str], now: float) -> None:
        connection.executemany(
            "INSERT OR REPLACE INTO s3_garbage (blob, since) VALUES (?, ?)", [(b, now) for b in blob_ids]
        )

    def _maybe_reap(self) -> None:
        now = time.monotonic()
        if now - self._last_reap >= min(5.0, self.garbage_grace_seconds):
            self._last_reap = now
            self.reap_garbage()

    def reap_garbage(self, older_than: float | None = None) -> int:
        """Delete blob files discarded more than the grace period ago; returns how many."""
        cutoff = time.time() - (self.garbage_grace_seconds if older_than is None else older_than)
        rows = self.db.query("SELECT blob FROM s3_garbage WHERE since <= ? ORDER BY since LIMIT 10000", (cutoff,))
        if not rows:
            return 0
        blob_ids = [row["blob"] for row in rows]
        with self.db.transaction() as connection:
            connection.executemany("DELETE FROM s3_garbage WHERE blob = ?", [(b,) for b in blob_ids])
        for blob_id in blob_ids:
            try:
                self.blobs.delete(blob_id)
            except ValueError:
                pass
        return len(blob_ids)

    def _recover(self) -> None:
        """At start-up nobody reads or writes yet: drop all garbage, temporary and orphan files."""
        self.reap_garbage(older_than=-1.0)
        referenced = {row["blob"] for row in self.db.query("SELECT blob FROM s3_objects")}
        referenced.update(row["blob"] for row in self.db.query("SELECT blob FROM s3_parts"))
        self.blobs.sweep(referenced.__contains__)


# -- helpers shared with the multipart component and the handlers -----------------------------


class _Etag:
    def __init__(self, etag: str) -> None:
        self.etag = etag


def etag_matches(condition: str, etag: str) -> bool:
    """Whether an If-Match / If-None-Match list (``*`` or comma-separated ETags) names ``etag``."""
    wanted = strip_etag(etag)
    for candidate in condition.split(","):
        candidate = candidate.strip()
        if candidate.startswith("W/"):
            candidate = candidate[2:]
        if candidate == "*" or strip_etag(candidate) == wanted:
            return True
    return False


def check_write_conditions(current: Any, key: str, if_match: str | None, if_none_match: str | None) -> None:
    """S3's conditional writes: If-None-Match ``*`` and If-Match ``<etag>`` on PUT / Complete."""
    if if_none_match is not None and current is not None:
        raise errors.PreconditionFailed("If-None-Match")
    if if_match is not None:
        if current is None:
            raise errors.NoSuchKey(key)
        if not etag_matches(if_match, current.etag):
            raise errors.PreconditionFailed("If-Match")


def validate_key(key: str) -> None:
    if not isinstance(key, str) or not key:
        raise errors.invalid_argument("Object key must not be empty", "key", key)
    size = len(key.encode("utf-8", "surrogatepass"))
    if size > MAX_KEY_BYTES:
        raise errors.key_too_long(size, MAX_KEY_BYTES)


def normalise_metadata(metadata: dict[str, str] | None) -> dict[str, str]:
    """User metadata travels as HTTP headers, so S3 keeps the names lower-case."""
    return {str(name).lower(): str(value) for name, value in (metadata or {}).items()}


def body_chunks(body: Body) -> Iterable[bytes]:
    if body is None:
        return []
    if isinstance(body, (bytes, bytearray, memoryview)):
        return [bytes(body)]
    if isinstance(body, str):
        return [body.encode("utf-8")]
    if hasattr(body, "read"):
        return read_chunks(body)  # type: ignore[arg-type]
    return body


def _object_to_row(info: ObjectInfo) -> tuple[Any, ...]:
    headers = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in info.headers.items()}
    checksum = info.checksum
    return (
        info.bucket,
        info.key,
        info.blob_id,
        info.size,
        info.etag,
        info.last_modified.timestamp(),
        info.content_type,
        json.dumps(info.metadata),
        json.dumps(headers),
        checksum.algorithm if checksum else None,
        checksum.value if checksum else None,
        checksum.type if checksum else None,
        json.dumps(list(info.part_sizes)) if info.part_sizes else None,
    )


def _object_from_row(row: Any) -> ObjectInfo:
    headers = json.loads(row["headers"])
    if "Expires" in headers:
        try:
            headers["Expires"] = datetime.fromisoformat(headers["Expires"])
        except (TypeError, ValueError):
            pass
    checksum = None
    if row["checksum_algorithm"] and row["checksum"]:
        checksum = Checksum(row["checksum_algorithm"], row["checksum"], row["checksum_type"] or "FULL_OBJECT")
    return ObjectInfo(
        bucket=row["bucket"],
        key=row["key"],
        size=row["size"],
        etag=row["etag"],
        last_modified=timestamp(row["last_modified"]),
        content_type=row["content_type"],
        metadata=json.loads(row["metadata"]),
        headers=headers,
        checksum=checksum,
        part_sizes=tuple(json.loads(row["part_sizes"])) if row["part_sizes"] else (),
        blob_id=row["blob"],
    )


__all__ = [
    "ObjectStore",
    "ObjectInfo",
    "BucketInfo",
    "Checksum",
    "DEFAULT_CONTENT_TYPE",
    "body_chunks",
    "check_write_conditions",
    "etag_matches",
    "normalise_metadata",
    "validate_key",
]
