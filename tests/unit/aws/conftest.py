from __future__ import annotations

import pytest

from sagemaker_emulator.aws import dispatch


@pytest.fixture
def registry(monkeypatch):
    """An empty handler table of the test's own: the real handler modules are never imported."""
    handlers: dict = {}
    monkeypatch.setattr(dispatch, "_HANDLERS", handlers)
    monkeypatch.setattr(dispatch, "_loaded", True)
    return handlers
