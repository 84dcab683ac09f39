"""The public, read-only sample-data buckets that AWS example notebooks download from.

Seeded when the emulator starts, owned by AWS rather than the emulated account (so they are not
listed by ListBuckets and every write is AccessDenied), in every region SageMaker runs in:

- ``sagemaker-sample-data-<region>``: ``algorithms/kmeans/mnist/mnist.pkl.gz``
- ``sagemaker-sample-files`` and ``sagemaker-example-files-prod-<region>``:
  ``datasets/image/MNIST/mnist.pkl.gz``
- ``example-notebooks-data-config``: ``config/data_config.json``, the region → bucket map that
  ``sagemaker.utils.S3DataConfig`` reads.

``mnist.pkl.gz`` is the classic pickle ``((train_x, train_y), (valid_x, valid_y), (test_x, test_y))``
(float32 pixels in [0, 1]; 50,000 / 10,000 / 10,000 rows) built from the MNIST files shipped in
``sagemaker_emulator/data/mnist``; it is built once per machine and cached.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

from sagemaker_emulator.services.s3 import errors

log = logging.getLogger(__name__)

OWNER = "aws-public-datasets"
CONFIG_BUCKET = "example-notebooks-data-config"
CONFIG_KEY = "config/data_config.json"
SAMPLE_FILES_BUCKET = "sagemaker-sample-files"
MNIST_KEY = "datasets/image/MNIST/mnist.pkl.gz"
KMEANS_MNIST_KEY = "algorithms/kmeans/mnist/mnist.pkl.gz"


def sagemaker_regions(extra: str) -> list[str]:
    import botocore.session

    regions = set(botocore.session.get_session().get_available_regions("sagemaker"))
    regions.add(extra)
    return sorted(regions)


def cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "sagemaker-emulator"


def mnist_pickle(fallback_dir: Path) -> Path:
    """The path of mnist.pkl.gz, building it on first use (a few seconds)."""
    for directory in (cache_dir(), fallback_dir):
        path = directory / "mnist.pkl.gz"
        if path.is_file():
            return path
    from sagemaker_emulator.datasets import load_mnist

    data = load_mnist()
    for directory in (cache_dir(), fallback_dir):
        try:
            directory.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=directory, suffix=".tmp")
            with os.fdopen(handle, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, mtime=0) as out:
                pickle.dump(data, out, protocol=2)
            os.replace(temporary, directory / "mnist.pkl.gz")
            return directory / "mnist.pkl.gz"
        except OSError as error:
            log.warning("cannot build mnist.pkl.gz in %s: %s", directory, error)
    raise RuntimeError("cannot build the sample MNIST pickle anywhere")


def seed_sample_data(objects: Any, fallback_dir: Path) -> None:
    """Create the sample buckets and objects that are missing (idempotent, cheap once done)."""
    regions = sagemaker_regions(objects.region)
    wanted = {SAMPLE_FILES_BUCKET: MNIST_KEY, CONFIG_BUCKET: CONFIG_KEY}
    for region in regions:
        wanted[f"sagemaker-sample-data-{region}"] = KMEANS_MNIST_KEY
        wanted[f"sagemaker-example-files-prod-{region}"] = MNIST_KEY
    missing = {bucket: key for bucket, key in wanted.items() if objects.find_object_or_none(bucket, key) is None}
    if not missing:
        return
    source = None
    for bucket, key in sorted(missing.items()):
        try:
            objects.create_bucket(bucket, _bucket_region(bucket), owner=OWNER)
        except errors.BucketAlreadyOwnedByYou:
            pass
        if key == CONFIG_KEY:
            config = {"default": SAMPLE_FILES_BUCKET, **{r: f"sagemaker-example-files-prod-{r}" for r in regions}}
            objects.put_object_bytes(bucket, key, json.dumps(config, indent=2).encode(), content_type="application/json")
        elif source is None:
            source = objects.put_object_from_file(bucket, key, mnist_pickle(fallback_dir), content_type="application/x-gzip")
        else:
            objects.copy_object(source, bucket, key)  # shares the bytes through a hard link
    log.info("seeded %d public sample-data objects", len(missing))


def _bucket_region(bucket: str) -> str:
    for prefix in ("sagemaker-sample-data-", "sagemaker-example-files-prod-"):
        if bucket.startswith(prefix):
            return bucket[len(prefix):]
    return "us-east-1"
