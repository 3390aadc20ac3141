"""What the throwaway database servers of the tests share: a free port, and skipping without the server."""

from __future__ import annotations

import os
import socket
from typing import TypeVar

import pytest

Found = TypeVar("Found")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def require(found: Found | None, server: str, install_hint: str) -> Found:
    """`found` (the server's binaries); skip without them, but fail under CI: CI must run these tests."""
    if found is None:
        reason = f"no {server} server found: {install_hint}"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {reason}")
        pytest.skip(reason)
    return found
