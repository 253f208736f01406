"""Running ``kplay`` as a user does: a separate process, its stdout read with deadlines.

``kplay(data_path, "topics", "--list")`` runs one tool to completion; ``LiveTool`` starts
a long-running one (a console consumer) and reads its lines as they come, never sleeping
to wait for them.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Optional

ROOT = Path(__file__).resolve().parent.parent
#: The installed console script runs ``app.cli:main``; calling it through this interpreter
#: works from any checkout, without relying on PATH.
KPLAY = [sys.executable, "-c", "from app.cli import main; main()"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("KPLAY_DATA", None)  # every call names its data file with --data
    env["PYTHONUNBUFFERED"] = "1"
    return env


def kplay(data_path: Path, *args: str, input: Optional[str | bytes] = None,
          timeout: float = 60) -> subprocess.CompletedProcess:
    """Run ``kplay ARGS --data DATA_PATH`` to completion; text output unless ``input`` is bytes."""
    return subprocess.run([*KPLAY, *args, "--data", str(data_path)], input=input, capture_output=True,
                          text=not isinstance(input, bytes), timeout=timeout, cwd=ROOT, env=_env())


class LiveTool:
    """A kplay tool left running, with its stdout and stderr lines collected as they appear."""

    def __init__(self, data_path: Path, *args: str) -> None:
        self.proc = subprocess.Popen([*KPLAY, *args, "--data", str(data_path)], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     cwd=ROOT, env=_env())
        self._stdout: queue.Queue[Optional[str]] = queue.Queue()
        self._stderr: list[str] = []
        assert self.proc.stdout is not None and self.proc.stderr is not None
        threading.Thread(target=self._pump, args=(self.proc.stdout, self._stdout), daemon=True).start()
        self._stderr_thread = threading.Thread(target=self._collect, args=(self.proc.stderr,), daemon=True)
        self._stderr_thread.start()

    @staticmethod
    def _pump(stream: IO[str], into: "queue.Queue[Optional[str]]") -> None:
        for line in stream:
            into.put(line.rstrip("\n"))
        into.put(None)

    def _collect(self, stream: IO[str]) -> None:
        for line in stream:
            self._stderr.append(line.rstrip("\n"))

    def read_lines(self, count: int, timeout_s: float = 30.0) -> list[str]:
        """The next ``count`` stdout lines; fewer if the deadline passes or the tool exits."""
        deadline = time.monotonic() + timeout_s
        lines: list[str] = []
        while len(lines) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                line = self._stdout.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            lines.append(line)
        return lines

    def stderr_so_far(self) -> list[str]:
        """The stderr lines written until now (for failure messages)."""
        return list(self._stderr)

    def stop(self, signum: int = signal.SIGINT, timeout_s: float = 30.0) -> tuple[int, list[str]]:
        """Send ``signum``, wait for the exit; return the exit status and every stderr line."""
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        return self.wait(timeout_s)

    def wait(self, timeout_s: float = 30.0) -> tuple[int, list[str]]:
        """Wait for the tool to exit by itself; return its exit status and stderr lines."""
        try:
            code = self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._stderr_thread.join(timeout_s)
        return code, list(self._stderr)

    def kill(self) -> None:
        """Make sure the process is gone (test cleanup)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def create_topics(data_path: Path, topics: dict[str, int], replication_factor: int = 1) -> None:
    """Create ``{name: partitions}`` directly through the core: set-up without a subprocess each."""
    import asyncio

    from broker_core import Cluster

    async def create() -> None:
        cluster = await Cluster.open(data_path)
        try:
            for name, partitions in topics.items():
                await cluster.topics.create_topic(name, partitions, replication_factor)
        finally:
            await cluster.close()

    asyncio.run(create())
