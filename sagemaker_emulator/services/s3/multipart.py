"""Multipart uploads: parts are blobs of their own; completing concatenates them into a new blob.

Reached as ``ObjectStore.uploads``. Rows live in ``s3_uploads`` / ``s3_parts``; a completed or
aborted upload's part blobs go through the store's delayed deletion like any replaced blob.
"""

from __future__ import annotations

import json
import secrets
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any, Iterator

from sagemaker_emulator.services.s3 import errors
from sagemaker_emulator.services.s3.checksums import (
    ChecksumRequest,
    Digester,
    composite_checksum,
    multipart_etag,
    strip_etag,
    verify_content_md5,
)
from sagemaker_emulator.services.s3.models import Checksum, ObjectInfo, PartInfo, UploadInfo, timestamp

if TYPE_CHECKING:
    from sagemaker_emulator.services.s3.store import Body, ObjectStore

MIN_PART_SIZE = 5 << 20
MAX_PART_NUMBER = 10000
_UPLOAD_COLUMNS = (
    "upload_id, bucket, key, initiated, content_type, metadata, headers, checksum_algorithm, checksum_type"
)


class MultipartUploads:
    def __init__(self, store: "ObjectStore") -> None:
        self.store = store
        self.db = store.db
        self.blobs = store.blobs

    def create(
        self,
        bucket: str,
        key: str,
        *,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        headers: dict[str, Any] | None = None,
        checksum_algorithm: str | None = None,
        checksum_type: str | None = None,
    ) -> UploadInfo:
        from sagemaker_emulator.services.s3.store import normalise_metadata, validate_key

        validate_key(key)
        self.store.get_bucket(bucket)
        upload = UploadInfo(
            upload_id=secrets.token_urlsafe(48),
            bucket=bucket,
            key=key,
            initiated=timestamp(time.time()),
            content_type=content_type,
            metadata=normalise_metadata(metadata),
            headers=dict(headers or {}),
            checksum_algorithm=checksum_algorithm,
            checksum_type=checksum_type if checksum_algorithm else None,
        )
        headers_json = json.dumps({k: (v.isoformat() if hasattr(v, "isoformat") else v)
                                   for k, v in upload.headers.items()})
        self.db.execute(
            f"INSERT INTO s3_uploads ({_UPLOAD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                upload.upload_id, bucket, key, upload.initiated.timestamp(), content_type,
                json.dumps(upload.metadata), headers_json, checksum_algorithm, upload.checksum_type,
            ),
        )
        return upload

    def get(self, bucket: str, key: str, upload_id: str) -> UploadInfo:
        """The upload; NoSuchBucket, or NoSuchUpload (also when it belongs to another key)."""
        row = self.db.query_one(f"SELECT {_UPLOAD_COLUMNS} FROM s3_uploads WHERE upload_id = ?", (upload_id,))
        if row is None or row["bucket"] != bucket or row["key"] != key:
            self.store.get_bucket(bucket)
            raise errors.NoSuchUpload(upload_id)
        return _upload_from_row(row)

    def upload_part(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        part_number: int,
        body: "Body",
        *,
        checksum: ChecksumRequest | None = None,
        content_md5: bytes | None = None,
    ) -> PartInfo:
        from sagemaker_emulator.services.s3.store import body_chunks

        check_part_number(part_number)
        upload = self.get(bucket, key, upload_id)
        checksum = checksum or ChecksumRequest(None, None)
        if upload.checksum_algorithm:
            if checksum.algorithm and checksum.algorithm != upload.checksum_algorithm:
                raise errors.invalid_request(
                    f"Checksum Type mismatch occurred, expected checksum Type: "
                    f"{upload.checksum_algorithm.lower()}, actual checksum Type: {checksum.algorithm.lower()}"
                )
            checksum = ChecksumRequest(upload.checksum_algorithm, checksum.value)
        digester = Digester([checksum.algorithm])
        blob = self.blobs.write(body_chunks(body), digester)
        try:
            verify_content_md5(content_md5, digester)
            value = checksum.verify(digester)
            now = time.time()
            part = PartInfo(part_number, blob.size, digester.etag, timestamp(int(now)), value, blob.id)
            with self.db.transaction() as connection:
                if not connection.execute("SELECT 1 FROM s3_uploads WHERE upload_id = ?", (upload_id,)).fetchone():
                    raise errors.NoSuchUpload(upload_id)
                old = connection.execute(
                    "SELECT blob FROM s3_parts WHERE upload_id = ? AND part_number = ?", (upload_id, part_number)
                ).fetchone()
                connection.execute(
                    "INSERT OR REPLACE INTO s3_parts (upload_id, part_number, blob, size, etag, checksum, "
                    "last_modified) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (upload_id, part_number, blob.id, blob.size, part.etag, value, int(now)),
                )
                if old is not None:
                    self.store._discard(connection, [old["blob"]], now)
        except BaseException:
            self.blobs.delete(blob.id)
            raise
        return part

    def list_parts(self, upload_id: str, after: int = 0) -> list[PartInfo]:
        rows = self.db.query(
            "SELECT part_number, blob, size, etag, checksum, last_modified FROM s3_parts "
            "WHERE upload_id = ? AND part_number > ? ORDER BY part_number",
            (upload_id, after),
        )
        return [
            PartInfo(r["part_number"], r["size"], r["etag"], timestamp(r["last_modified"]), r["checksum"], r["blob"])
            for r in rows
        ]

    def complete(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        parts: list[dict[str, Any]],
        *,
        checksum: ChecksumRequest | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
        expected_size: int | None = None,
    ) -> ObjectInfo:
        """Assemble the listed parts (``{"PartNumber", "ETag", "Checksum<ALG>"?}``, ascending)."""
        from sagemaker_emulator.services.s3.store import check_write_conditions

        upload = self.get(bucket, key, upload_id)
        if not parts:
            raise errors.malformed_xml()
        numbers = [int(part.get("PartNumber", 0)) for part in parts]
        if any(b <= a for a, b in zip(numbers, numbers[1:])):
            raise errors.invalid_part_order(upload_id)
        stored = {part.part_number: part for part in self.list_parts(upload_id)}
        algorithm = upload.checksum_algorithm
        chosen: list[PartInfo] = []
        for requested, number in zip(parts, numbers):
            etag = requested.get("ETag") or ""
            part = stored.get(number)
            if part is None or strip_etag(part.etag) != strip_etag(etag):
                raise errors.invalid_part(upload_id, number, etag)
            claimed = requested.get("Checksum" + algorithm) if algorithm else None
            if claimed and part.checksum and claimed != part.checksum:
                raise errors.invalid_part(upload_id, number, etag)
            chosen.append(part)
        for part in chosen[:-1]:
            if part.size < MIN_PART_SIZE:
                raise errors.entity_too_small(part.size, MIN_PART_SIZE, part.part_number, part.etag)
        total = sum(part.size for part in chosen)
        if expected_size is not None and int(expected_size) != total:
            raise errors.invalid_request(
                f"The provided 'x-amz-mp-object-size' header value \"{expected_size}\" does not match what was "
                f"computed: \"{total}\""
            )
        check_write_conditions(self.store.find_object(bucket, key), key, if_match, if_none_match)

        full_object = algorithm is not None and upload.checksum_type == "FULL_OBJECT"
        digester = Digester([algorithm] if full_object else [])
        blob = self.blobs.concatenate([part.blob_id for part in chosen], digester if full_object else None)
        try:
            object_checksum = None
            if algorithm and full_object:
                claimed = checksum.value if checksum and checksum.algorithm == algorithm else None
                value = digester.checksum(algorithm)
                if value is not None and claimed is not None and value != claimed:
                    raise errors.bad_checksum(algorithm.lower())
                value = value or claimed
                object_checksum = Checksum(algorithm, value, "FULL_OBJECT") if value else None
            elif algorithm:
                part_values = [part.checksum for part in chosen]
                if all(part_values):
                    value = composite_checksum(algorithm, part_values)  # type: ignore[arg-type]
                    object_checksum = Checksum(algorithm, value, "COMPOSITE") if value else None
            info = ObjectInfo(
                bucket=bucket,
                key=key,
                size=blob.size,
                etag=multipart_etag(part.etag for part in chosen),
                last_modified=timestamp(int(time.time())),
                content_type=upload.content_type or "binary/octet-stream",
                metadata=upload.metadata,
                headers=upload.headers,
                checksum=object_checksum,
                part_sizes=tuple(part.size for part in chosen),
                blob_id=blob.id,
            )
            with self.db.transaction() as connection:
                if not connection.execute("SELECT 1 FROM s3_uploads WHERE upload_id = ?", (upload_id,)).fetchone():
                    raise errors.NoSuchUpload(upload_id)
                self.store.commit_object(info, if_match=if_match, if_none_match=if_none_match)
                self._drop(connection, upload_id)
        except BaseException:
            self.blobs.delete(blob.id)
            raise
        return info

    def abort(self, bucket: str, key: str, upload_id: str) -> None:
        self.get(bucket, key, upload_id)
        with self.db.transaction() as connection:
            if not connection.execute("SELECT 1 FROM s3_uploads WHERE upload_id = ?", (upload_id,)).fetchone():
                raise errors.NoSuchUpload(upload_id)
            self._drop(connection, upload_id)

    def list_uploads(
        self,
        bucket: str,
        prefix: str = "",
        key_marker: str | None = None,
        upload_id_marker: str | None = None,
    ) -> Iterator[UploadInfo]:
        """Unfinished uploads of ``bucket`` ordered by key, then initiation time."""
        self.store.get_bucket(bucket)
        rows = self.db.query(
            f"SELECT {_UPLOAD_COLUMNS} FROM s3_uploads WHERE bucket = ? AND substr(key, 1, ?) = ? "
            "ORDER BY key, initiated, upload_id",
            (bucket, len(prefix), prefix),
        )
        uploads = [_upload_from_row(row) for row in rows]
        position = None
        if key_marker is not None and upload_id_marker:
            for index, upload in enumerate(uploads):
                if upload.key == key_marker and upload.upload_id == upload_id_marker:
                    position = index
                    break
        for index, upload in enumerate(uploads):
            if key_marker is not None:
                if position is not None:
                    if index <= position:
                        continue
                elif upload.key <= key_marker:
                    continue
            yield upload

    def _drop(self, connection: Any, upload_id: str) -> None:
        blobs = [row["blob"] for row in connection.execute(
            "SELECT blob FROM s3_parts WHERE upload_id = ?", (upload_id,)
        ).fetchall()]
        self.store._discard(connection, blobs, time.time())
        connection.execute("DELETE FROM s3_parts WHERE upload_id = ?", (upload_id,))
        connection.execute("DELETE FROM s3_uploads WHERE upload_id = ?", (upload_id,))


def check_part_number(part_number: Any) -> int:
    try:
        number = int(part_number)
    except (TypeError, ValueError):
        number = 0
    if not 1 <= number <= MAX_PART_NUMBER:
        raise errors.invalid_argument(
            f"Part number must be an integer between 1 and {MAX_PART_NUMBER}, inclusive",
            "partNumber",
            part_number,
        )
    return number


def _upload_from_row(row: Any) -> UploadInfo:
    headers = json.loads(row["headers"])
    if "Expires" in headers:
        try:
            headers["Expires"] = datetime.fromisoformat(headers["Expires"])
        except (TypeError, ValueError):
            pass
    return UploadInfo(
        upload_id=row["upload_id"],
        bucket=row["bucket"],
        key=row["key"],
        initiated=timestamp(row["initiated"]),
        content_type=row["content_type"],
        metadata=json.loads(row["metadata"]),
        headers=headers,
        checksum_algorithm=row["checksum_algorithm"],
        checksum_type=row["checksum_type"],
    )
