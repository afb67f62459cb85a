"""The embedded worker a one-shot command starts dies with that command, even when the command is killed
outright (SIGKILL runs no `finally`): no worker is left behind consuming the embedded queue."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.processes import BIN, environment, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc (Linux)")]


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            status = (entry / "status").read_text()
        except (OSError, ValueError):
            continue
        if entry.name.isdigit() and f"\nPPid:\t{pid}\n" in status:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        status = (Path("/proc") / str(pid) / "status").read_text()
    except OSError:
        return False
    state = next((line for line in status.splitlines() if line.startswith("State:")), "State:\tZ")
    return "Z" not in state.split()[1]  # a zombie has exited


def test_a_killed_command_takes_its_embedded_worker_with_it(tmp_path: Path) -> None:
    command = subprocess.Popen(
        [str(BIN / "tongket"), "demo"],
        env=environment(tmp_path / "data"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers: list[int] = []
    try:

        def worker_started() -> bool:
            workers[:] = [
                pid for pid in _children(command.pid) if b"celery" in Path(f"/proc/{pid}/cmdline").read_bytes()
            ]
            return bool(workers)

        wait_until(worker_started, 60, "the embedded worker to start")
        command.send_signal(signal.SIGKILL)
        command.wait(10)
        wait_until(lambda: not any(_alive(pid) for pid in workers), 45, "the embedded worker to stop")
    finally:
        if command.poll() is None:
            command.kill()
            command.wait()
        for pid in workers:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
                time.sleep(0.1)
