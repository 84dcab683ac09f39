"""Staging a training job's input channels from S3 into a host's ``input/data/<channel>``.

Understands S3Prefix and ManifestFile sources, FullyReplicated and ShardedByS3Key distribution and
Gzip compression. Objects are hard-linked from the object store when possible (blob files are never
modified in place), copied otherwise.
"""

from __future__ import annotations

import gzip
import json
import os
import posixpath
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sagemaker_emulator.aws.errors import AwsError


class ChannelError(Exception):
    """A channel cannot be staged; the message is the job's FailureReason."""


@dataclass(frozen=True)
class ChannelObject:
    bucket: str
    key: str
    relative_path: str  # where it lands under the channel directory


def parse_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f"not an S3 URI: {uri}")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket:
        raise ValueError(f"not an S3 URI: {uri}")
    return bucket, key


def safe_relative_path(path: str) -> str:
    """A relative path that stays inside the channel directory, whatever the key looks like."""
    parts = [part for part in posixpath.normpath("/" + path).split("/") if part not in ("", ".", "..")]
    return "/".join(parts)


def list_channel_objects(objects: Any, channel: dict[str, Any], role_arn: str, region: str) -> list[ChannelObject]:
    source = channel.get("DataSource", {}).get("S3DataSource")
    if source is None:
        raise ChannelError(
            f"ClientError: Channel {channel['ChannelName']} has no S3DataSource; only S3 data sources are supported."
        )
    uri = source["S3Uri"]
    data_type = source.get("S3DataType", "S3Prefix")
    try:
        bucket, prefix = parse_s3_uri(uri)
        if data_type == "ManifestFile":
            entries = _manifest_entries(objects, bucket, prefix, uri)
        elif data_type == "S3Prefix":
            entries = [
                ChannelObject(bucket, info.key, safe_relative_path(_relative_to_prefix(info.key, prefix)))
                for info in objects.list_objects(bucket, prefix)
                if not info.key.endswith("/")
            ]
        else:
            raise ChannelError(f"ClientError: S3DataType {data_type} is not supported by sagemaker-emulator yet.")
    except AwsError as error:
        if error.code == "NoSuchBucket":
            entries = []
        else:
            raise ChannelError(f"ClientError: Data download failed: {error.message}") from error
    except ValueError as error:
        raise ChannelError(f"ClientError: {error}") from error
    if not entries:
        raise ChannelError(
            f'ClientError: No S3 objects found under S3 URL "{uri}" given in input data source. Please ensure '
            f"that the bucket exists in the selected region ({region}), that objects exist under that S3 prefix, "
            f'and that the role "{role_arn}" has "s3:ListBucket" permissions on bucket "{uri[5:].split("/")[0]}".'
        )
    return entries


def _relative_to_prefix(key: str, prefix: str) -> str:
    relative = key[len(prefix) :].lstrip("/")
    return relative or posixpath.basename(key)


def _manifest_entries(objects: Any, bucket: str, key: str, uri: str) -> list[ChannelObject]:
    try:
        manifest = json.loads(objects.get_object_bytes(bucket, key))
        base_bucket, base_prefix = parse_s3_uri(manifest[0]["prefix"])
        suffixes = manifest[1:]
        if not all(isinstance(suffix, str) for suffix in suffixes):
            raise TypeError
    except AwsError:
        raise
    except (ValueError, KeyError, IndexError, TypeError) as error:
        raise ChannelError(f"ClientError: The manifest file {uri} is not a valid manifest: {error}") from error
    return [ChannelObject(base_bucket, base_prefix + suffix, safe_relative_path(suffix)) for suffix in suffixes]


def shard(entries: list[ChannelObject], distribution: str, host_index: int, host_count: int) -> list[ChannelObject]:
    """The objects one host receives: all of them, or every host_count-th for ShardedByS3Key."""
    if distribution == "ShardedByS3Key" and host_count > 1:
        return entries[host_index::host_count]
    return entries


def stage(objects: Any, entries: list[ChannelObject], destination: Path, compression: str | None) -> int:
    """Materialise the objects under ``destination``; returns the bytes staged."""
    total = 0
    for entry in entries:
        try:
            source = objects.object_path(entry.bucket, entry.key)
        except AwsError as error:
            raise ChannelError(f"ClientError: Data download failed: {error.message} ({entry.bucket}/{entry.key})")
        relative = entry.relative_path
        if compression == "Gzip" and relative.endswith(".gz"):
            relative = relative[:-3]
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if compression == "Gzip":
            try:
                with gzip.open(source, "rb") as compressed, open(target, "wb") as plain:
                    shutil.copyfileobj(compressed, plain, 1 << 20)
            except (OSError, EOFError) as error:
                raise ChannelError(
                    f"ClientError: Could not decompress s3://{entry.bucket}/{entry.key} with Gzip: {error}"
                ) from error
        else:
            try:
                os.link(source, target)
            except OSError:
                shutil.copyfile(source, target)
        total += target.stat().st_size
    return total
