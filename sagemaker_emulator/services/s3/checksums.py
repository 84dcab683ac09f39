"""S3 integrity checks: MD5 ETags, Content-MD5 and the flexible checksums (``x-amz-checksum-*``).

Checksum values travel base64-encoded (the big-endian CRC, or the raw hash). What we can compute
we verify: CRC32 (zlib), SHA-1/SHA-256/SHA-512/MD5 (hashlib), CRC32C and CRC64NVME (awscrt when
installed, else a table-driven pure-Python CRC for bodies up to ``PURE_PYTHON_LIMIT``). Values we
cannot compute (xxHash, or a large body without awscrt) are stored as the client sent them.

Multipart objects carry either a COMPOSITE checksum (the checksum of the concatenated binary part
checksums, suffixed ``-N``) or a FULL_OBJECT one (the checksum of the whole content).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import zlib
from typing import Any, Iterable, Protocol

from sagemaker_emulator.services.s3 import errors

# Algorithm names as S3 spells them, in the order S3 documents them.
ALGORITHMS = (
    "CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256", "SHA512", "MD5", "XXHASH64", "XXHASH3", "XXHASH128",
)
DIGEST_SIZES = {
    "CRC32": 4, "CRC32C": 4, "CRC64NVME": 8, "SHA1": 20, "SHA256": 32, "SHA512": 64, "MD5": 16,
    "XXHASH64": 8, "XXHASH3": 8, "XXHASH128": 16,
}
# Algorithms whose multipart checksum may be COMPOSITE (the others are FULL_OBJECT only).
COMPOSITE_CAPABLE = frozenset({"CRC32", "CRC32C", "SHA1", "SHA256"})
FULL_OBJECT_CAPABLE = frozenset({"CRC32", "CRC32C", "CRC64NVME"})
PURE_PYTHON_LIMIT = 16 << 20

try:  # pragma: no cover - depends on the environment
    from awscrt import checksums as _crt  # type: ignore
except ImportError:  # pragma: no cover
    _crt = None


def param_name(algorithm: str) -> str:
    """The modelled member for ``algorithm``: ``ChecksumCRC32`` and so on."""
    return "Checksum" + algorithm


def header_name(algorithm: str) -> str:
    return "x-amz-checksum-" + algorithm.lower()


class Hasher(Protocol):
    def update(self, data: bytes) -> None: ...

    def digest(self) -> bytes | None: ...


class _Crc32:
    def __init__(self) -> None:
        self._crc = 0

    def update(self, data: bytes) -> None:
        self._crc = zlib.crc32(data, self._crc)

    def digest(self) -> bytes:
        return self._crc.to_bytes(4, "big")


def _reflected_table(polynomial: int) -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ polynomial if crc & 1 else crc >> 1
        table.append(crc)
    return table


class _TableCrc:
    """A reflected CRC (init and final xor all ones); gives up past ``limit`` bytes."""

    _tables: dict[int, list[int]] = {}

    def __init__(self, polynomial: int, width: int, limit: int = PURE_PYTHON_LIMIT) -> None:
        if polynomial not in self._tables:
            self._tables[polynomial] = _reflected_table(polynomial)
        self._table = self._tables[polynomial]
        self._mask = (1 << width) - 1
        self._width = width
        self._crc = self._mask
        self._left: int | None = limit

    def update(self, data: bytes) -> None:
        if self._left is None:
            return
        if len(data) > self._left:
            self._left = None
            return
        self._left -= len(data)
        crc, table = self._crc, self._table
        for byte in data:
            crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
        self._crc = crc

    def digest(self) -> bytes | None:
        if self._left is None:
            return None
        return (self._crc ^ self._mask).to_bytes(self._width // 8, "big")


class _CrtCrc:  # pragma: no cover - only with awscrt
    def __init__(self, function: Any, width: int) -> None:
        self._function = function
        self._width = width
        self._crc = 0

    def update(self, data: bytes) -> None:
        self._crc = self._function(data, self._crc)

    def digest(self) -> bytes:
        return self._crc.to_bytes(self._width // 8, "big")


class _Hashlib:
    def __init__(self, name: str) -> None:
        self._hash = hashlib.new(name)

    def update(self, data: bytes) -> None:
        self._hash.update(data)

    def digest(self) -> bytes:
        return self._hash.digest()


def new_hasher(algorithm: str) -> Hasher | None:
    """A hasher for ``algorithm``, or None when this emulator cannot compute it."""
    if algorithm == "CRC32":
        return _Crc32()
    if algorithm == "CRC32C":
        if _crt is not None:  # pragma: no cover
            return _CrtCrc(_crt.crc32c, 32)
        return _TableCrc(0x82F63B78, 32)
    if algorithm == "CRC64NVME":
        if _crt is not None and hasattr(_crt, "crc64nvme"):  # pragma: no cover
            return _CrtCrc(_crt.crc64nvme, 64)
        return _TableCrc(0x9A6C9329AC4BC9B5, 64)
    if algorithm in ("SHA1", "SHA256", "SHA512", "MD5"):
        return _Hashlib(algorithm.lower())
    return None


def checksum_of(algorithm: str, data: bytes) -> str | None:
    hasher = new_hasher(algorithm)
    if hasher is None:
        return None
    hasher.update(data)
    digest = hasher.digest()
    return None if digest is None else b64(digest)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def decode_b64(value: str) -> bytes | None:
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None


class Digester:
    """Watches a body go by: always its MD5 (for the ETag), plus any checksum algorithms asked for."""

    def __init__(self, algorithms: Iterable[str | None] = ()) -> None:
        self._md5 = hashlib.md5()
        self._hashers: dict[str, Hasher | None] = {a: new_hasher(a) for a in algorithms if a}
        self.size = 0

    def update(self, chunk: bytes) -> None:
        self._md5.update(chunk)
        for hasher in self._hashers.values():
            if hasher is not None:
                hasher.update(chunk)
        self.size += len(chunk)

    __call__ = update

    @property
    def md5(self) -> bytes:
        return self._md5.digest()

    @property
    def etag(self) -> str:
        return '"' + self._md5.hexdigest() + '"'

    def checksum(self, algorithm: str) -> str | None:
        """The base64 checksum for ``algorithm``, or None when it could not be computed."""
        hasher = self._hashers.get(algorithm)
        if hasher is None:
            return None
        digest = hasher.digest()
        return None if digest is None else b64(digest)


class ChecksumRequest:
    """The checksum a request declares: its algorithm and, usually, its value (to be verified)."""

    def __init__(self, algorithm: str | None, value: str | None) -> None:
        self.algorithm = algorithm
        self.value = value

    @classmethod
    def from_params(
        cls, params: dict[str, Any], algorithm_member: str = "ChecksumAlgorithm", *, lenient: bool = False
    ) -> "ChecksumRequest":
        """Read ``Checksum<ALG>`` members (at most one) and the algorithm member of a request.

        ``lenient``: a value that is not a plain checksum (CompleteMultipartUpload may carry a
        composite ``...-N`` one) is ignored instead of rejected.
        """
        given = [(a, params[param_name(a)]) for a in ALGORITHMS if params.get(param_name(a))]
        if len(given) > 1:
            raise errors.invalid_request(
                "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
            )
        declared = params.get(algorithm_member)
        declared = declared.upper() if isinstance(declared, str) and declared else None
        if declared is not None and declared not in ALGORITHMS:
            raise errors.invalid_request("Checksum algorithm provided is unsupported. Please try again with any "
                                         "of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]")
        if not given:
            return cls(declared, None)
        algorithm, value = given[0]
        raw = decode_b64(value)
        if raw is None or len(raw) != DIGEST_SIZES[algorithm]:
            if lenient:
                return cls(algorithm, None)
            raise errors.invalid_request(f"Value for {header_name(algorithm)} header is invalid.")
        return cls(algorithm, value)

    def verify(self, digester: Digester) -> str | None:
        """Raise BadDigest if the value does not match; return the checksum to store (or None)."""
        if self.algorithm is None:
            return None
        computed = digester.checksum(self.algorithm)
        if self.value is None:
            return computed
        if computed is not None and computed != self.value:
            raise errors.bad_checksum(self.algorithm.lower())
        return self.value


def parse_content_md5(value: str | None) -> bytes | None:
    """The raw MD5 a ``Content-MD5`` header declares (InvalidDigest if it is not one)."""
    if value is None:
        return None
    raw = decode_b64(value)
    if raw is None or len(raw) != 16:
        raise errors.invalid_digest(value)
    return raw


def verify_content_md5(expected: bytes | None, digester: Digester) -> None:
    if expected is not None and expected != digester.md5:
        raise errors.bad_digest(b64(expected), b64(digester.md5))


def multipart_etag(part_etags: Iterable[str]) -> str:
    """S3's multipart ETag: MD5 of the concatenated binary part MD5s, then ``-<count>``."""
    digest = hashlib.md5()
    count = 0
    for etag in part_etags:
        digest.update(bytes.fromhex(etag.strip('"')))
        count += 1
    return f'"{digest.hexdigest()}-{count}"'


def composite_checksum(algorithm: str, part_checksums: list[str]) -> str | None:
    """The checksum of the concatenated binary part checksums, suffixed ``-<count>``."""
    hasher = new_hasher(algorithm)
    if hasher is None:
        return None
    for value in part_checksums:
        raw = decode_b64(value)
        if raw is None:
            return None
        hasher.update(raw)
    digest = hasher.digest()
    return None if digest is None else f"{b64(digest)}-{len(part_checksums)}"


def strip_etag(etag: str) -> str:
    return etag.strip().strip('"')
