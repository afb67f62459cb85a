"""Starting tongket's real processes (the CLI, Celery workers) for tests, with settings in their env."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent
QUEUES = "control,collect,render,mail"


def environment(data_dir: Path, **settings: str) -> dict[str, str]:
    """The test's own environment for a child, with only the given TONGKET_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONGKET_")}
    env["TONGKET_DATA_DIR"] = str(data_dir)
    env.update({f"TONGKET_{k.upper()}": v for k, v in settings.items()})
    return env


def tongket(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "tongket"), *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def start_worker(env: dict[str, str], name: str, concurrency: int = 2) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "--quiet",
            "-A",
            "tongket.worker.app",
            "worker",
            "-Q",
            QUEUES,
            "--concurrency",
            str(concurrency),
            "--hostname",
            f"{name}@%h",
            "--loglevel",
            "WARNING",
        ],
        env=env,
    )


def stop(process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
