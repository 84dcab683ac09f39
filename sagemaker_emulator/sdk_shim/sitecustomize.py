"""The emulator's opt-in client shim, loaded at Python start-up when ``sagemaker-emulator env`` has put
this directory on ``PYTHONPATH``.

boto3 sends every call to ``$AWS_ENDPOINT_URL``, except where a caller passes an explicit
``endpoint_url``: the SageMaker Python SDK does so for STS (``get_execution_role()``,
``Session.default_bucket()``), hard-coding ``https://sts.<region>.amazonaws.com``. With this shim, a
botocore client created with an explicit ``*.amazonaws.com`` endpoint goes to ``$AWS_ENDPOINT_URL``
instead. Nothing else changes; without ``AWS_ENDPOINT_URL`` the shim does nothing.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
from urllib.parse import urlsplit

_AWS_HOST_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")


def _redirect(endpoint_url):
    emulator = os.environ.get("AWS_ENDPOINT_URL")
    if emulator and endpoint_url and (urlsplit(str(endpoint_url)).hostname or "").endswith(_AWS_HOST_SUFFIXES):
        return emulator
    return endpoint_url


def _patch_botocore_session(module) -> None:
    original = module.Session.create_client
    if getattr(original, "_sagemaker_emulator", False):
        return

    def create_client(self, service_name, region_name=None, api_version=None, use_ssl=True, verify=None,
                      endpoint_url=None, *args, **kwargs):
        return original(self, service_name, region_name, api_version, use_ssl, verify,
                        _redirect(endpoint_url), *args, **kwargs)

    create_client._sagemaker_emulator = True
    module.Session.create_client = create_client


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Patches botocore.session right after it is first imported."""

    def find_spec(self, name, path, target=None):
        if name != "botocore.session":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        execute = loader.exec_module

        def exec_module(module):
            execute(module)
            _patch_botocore_session(module)

        loader.exec_module = exec_module
        return spec


if os.environ.get("AWS_ENDPOINT_URL"):
    if "botocore.session" in sys.modules:
        _patch_botocore_session(sys.modules["botocore.session"])
    else:
        sys.meta_path.insert(0, _PatchOnImport())


def _chain_next_sitecustomize() -> None:
    """Run the sitecustomize this one shadows (a distribution's or a virtualenv's), if any."""
    here = os.path.dirname(os.path.abspath(__file__))
    for entry in sys.path:
        if not entry or os.path.abspath(entry) == here:
            continue
        candidate = os.path.join(entry, "sitecustomize.py")
        if os.path.isfile(candidate):
            spec = importlib.util.spec_from_file_location("_sitecustomize_next", candidate)
            if spec and spec.loader:
                module = importlib.util.module_from_spec(spec)
                try:
                    spec.loader.exec_module(module)
                except Exception:  # a broken customisation elsewhere must not break start-up
                    pass
            return


import importlib.util  # noqa: E402

_chain_next_sitecustomize()
