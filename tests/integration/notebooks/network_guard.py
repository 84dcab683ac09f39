"""Imported first by the notebook scripts: refuses and reports any connection or name lookup that
would leave the machine, so a test can prove that no request reached AWS."""

from __future__ import annotations

import ipaddress
import os
import sys

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}
REPORT = os.environ.get("NETWORK_GUARD_REPORT")


def _is_local(host: object) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode()
    host = str(host)
    if host in _LOCAL_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _refuse(what: str) -> None:
    if REPORT:
        with open(REPORT, "a") as report:
            report.write(what + "\n")
    raise OSError(f"network_guard: refused {what}")


def _audit(event: str, args: tuple) -> None:
    if event == "socket.getaddrinfo" and not _is_local(args[0]):
        _refuse(f"getaddrinfo {args[0]}")
    elif event == "socket.connect":
        address = args[1]
        if isinstance(address, tuple) and not _is_local(address[0]):
            _refuse(f"connect {address}")


sys.addaudithook(_audit)
