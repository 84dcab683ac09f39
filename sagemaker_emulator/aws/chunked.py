"""``aws-chunked`` request bodies (``x-amz-content-sha256: STREAMING-...``): the SigV4 streaming
upload format, optionally with trailing checksum headers.

    <hex size>[;chunk-signature=<sig>]\\r\\n<data>\\r\\n ... 0[;chunk-signature=<sig>]\\r\\n
    [x-amz-checksum-crc32:<b64>\\r\\n ...]\\r\\n

We do not verify signatures. The decoded body replaces the raw one, trailers join the headers as
if they had been sent as headers (so ``x-amz-checksum-crc32`` reaches the params), and
``Content-Length`` becomes ``x-amz-decoded-content-length``.
"""

from __future__ import annotations

from sagemaker_emulator.aws.errors import AwsError


def is_aws_chunked(headers: dict[str, str]) -> bool:
    return headers.get("x-amz-content-sha256", "").startswith("STREAMING-") or (
        "aws-chunked" in headers.get("content-encoding", "")
    )


def _incomplete(detail: str) -> AwsError:
    return AwsError("IncompleteBody", f"The aws-chunked request body is malformed: {detail}.", 400)


def decode(body: bytes) -> tuple[bytes, dict[str, str]]:
    """The payload and the trailing headers (lower-cased names) of an aws-chunked body."""
    chunks: list[bytes] = []
    pos = 0
    end = len(body)
    while True:
        eol = body.find(b"\r\n", pos)
        if eol < 0:
            raise _incomplete("a chunk header is not terminated")
        size_text = body[pos:eol].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise _incomplete(f"bad chunk size {size_text[:16]!r}") from None
        pos = eol + 2
        if size == 0:
            break
        if pos + size > end:
            raise _incomplete("a chunk is shorter than its declared size")
        chunks.append(body[pos : pos + size])
        pos += size
        if body[pos : pos + 2] == b"\r\n":
            pos += 2
        elif pos != end:
            raise _incomplete("a chunk is not followed by CRLF")
    trailers: dict[str, str] = {}
    while pos < end:
        eol = body.find(b"\r\n", pos)
        if eol < 0:
            eol = end
        line = body[pos:eol]
        pos = eol + 2
        if not line.strip():
            continue
        name, sep, value = line.partition(b":")
        if sep:
            trailers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    payload = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    return payload, trailers


def decode_request(headers: dict[str, str], body: bytes) -> tuple[dict[str, str], bytes]:
    """New headers and body for an aws-chunked request (the inputs are left untouched)."""
    payload, trailers = decode(body)
    headers = dict(headers)
    encodings = [
        e.strip() for e in headers.get("content-encoding", "").split(",") if e.strip()
    ]
    remaining = [e for e in encodings if e != "aws-chunked"]
    if remaining:
        headers["content-encoding"] = ",".join(remaining)
    else:
        headers.pop("content-encoding", None)
    for name, value in trailers.items():
        if name != "x-amz-trailer-signature":
            headers[name] = value
    declared = headers.get("x-amz-decoded-content-length")
    headers["content-length"] = str(len(payload))
    if declared is not None and declared.strip().isdigit() and int(declared) != len(payload):
        raise _incomplete(
            f"x-amz-decoded-content-length is {declared} but the chunks hold {len(payload)} bytes"
        )
    return headers, payload
