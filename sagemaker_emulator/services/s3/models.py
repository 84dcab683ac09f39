"""What the object store hands out: buckets, objects, multipart uploads and parts (immutable)."""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

MAX_KEY_BYTES = 1024
STANDARD = "STANDARD"
# Stored object headers returned verbatim on GET/HEAD (modelled member names).
STORED_HEADERS = (
    "CacheControl", "ContentDisposition", "ContentEncoding", "ContentLanguage", "Expires",
    "WebsiteRedirectLocation", "StorageClass",
)

_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def is_valid_bucket_name(name: str) -> bool:
    """S3's general-purpose bucket naming rules."""
    if not isinstance(name, str) or not _BUCKET_NAME.match(name):
        return False
    if ".." in name or ".-" in name or "-." in name:
        return False
    if name.startswith(_RESERVED_PREFIXES) or name.endswith(_RESERVED_SUFFIXES):
        return False
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return True
    return False


def canonical_user_id(account_id: str) -> str:
    """A stable 64-hex canonical user id for an account (S3's Owner.ID)."""
    return hashlib.sha256(f"sagemaker-emulator:{account_id}".encode()).hexdigest()


def timestamp(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


@dataclass(frozen=True)
class BucketInfo:
    name: str
    region: str
    owner: str  # the owning account id
    created: datetime

    @property
    def arn(self) -> str:
        return f"arn:aws:s3:::{self.name}"


@dataclass(frozen=True)
class Checksum:
    algorithm: str  # CRC32, CRC32C, CRC64NVME, SHA1, SHA256, ...
    value: str  # base64; composite values end with -<parts>
    type: str  # FULL_OBJECT or COMPOSITE


@dataclass(frozen=True)
class ObjectInfo:
    bucket: str
    key: str
    size: int
    etag: str  # quoted, as S3 shows it: "<md5 hex>" or "<hex>-<parts>"
    last_modified: datetime  # aware UTC, whole seconds
    content_type: str
    metadata: dict[str, str] = field(default_factory=dict)  # user metadata (x-amz-meta-*), lower-case names
    headers: dict[str, Any] = field(default_factory=dict)  # CacheControl, ContentEncoding, Expires, ...
    checksum: Checksum | None = None
    part_sizes: tuple[int, ...] = ()  # sizes of the parts of a multipart object, () otherwise
    blob_id: str = ""  # internal: the immutable file holding the bytes

    @property
    def parts_count(self) -> int | None:
        return len(self.part_sizes) if self.part_sizes else None

    @property
    def storage_class(self) -> str:
        return self.headers.get("StorageClass") or STANDARD


@dataclass(frozen=True)
class UploadInfo:
    upload_id: str
    bucket: str
    key: str
    initiated: datetime
    content_type: str | None
    metadata: dict[str, str]
    headers: dict[str, Any]
    checksum_algorithm: str | None
    checksum_type: str | None  # COMPOSITE or FULL_OBJECT when an algorithm is set


@dataclass(frozen=True)
class PartInfo:
    part_number: int
    size: int
    etag: str  # quoted
    last_modified: datetime
    checksum: str | None  # base64 value for the upload's checksum algorithm
    blob_id: str = ""
