"""Issue 11, item 2: embedded mode never strands a run. With the outbox on a full disk, `tongket demo` says
"disk full: …" within seconds and keeps the deliveries to retry; once space is freed, the run finishes.
A half-written or garbled file in the embedded queue is put aside, not a crash of the worker."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.processes import BIN, environment, tongket
from tests.small_disk import full_disk
from tongket.models.db import session_scope
from tongket.models.tables import Delivery, DeliveryState, Run, RunState

pytestmark = [pytest.mark.slow]


def test_a_full_outbox_is_said_at_once_and_the_run_finishes_when_space_returns(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = environment(data, delivery_retry_seconds="1", delivery_retry_max_seconds="2")
    lines: list[tuple[float, str]] = []
    with full_disk(data / "outbox") as disk:
        demo = subprocess.Popen(
            [str(BIN / "tongket"), "demo", "--timeout", "180"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

        def read() -> None:
            assert demo.stdout is not None
            for line in demo.stdout:
                lines.append((time.monotonic(), line))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            deadline = time.monotonic() + 150
            while not any("disk full:" in line for _, line in lines):
                assert demo.poll() is None and time.monotonic() < deadline, "".join(line for _, line in lines)
                time.sleep(0.2)
            said_at = time.monotonic()
            with session_scope(f"sqlite:///{data / 'tongket.db'}") as session:
                deliveries = session.scalars(select(Delivery)).all()
            assert {d.state for d in deliveries} <= {DeliveryState.PENDING, DeliveryState.SENDING}  # kept, to retry
            # Said within the first retries (1 s, then 2 s apart), not after the command's timeout.
            assert max(d.attempts for d in deliveries) <= 3
            disk.free()  # space freed: the next retry writes the emails
            assert demo.wait(timeout=120) == 0, "".join(line for _, line in lines)
        finally:
            if demo.poll() is None:
                demo.kill()
                demo.wait()
            reader.join(timeout=5)
            if demo.stdout is not None:
                demo.stdout.close()
    assert said_at - lines[0][0] < 120
    with session_scope(f"sqlite:///{data / 'tongket.db'}") as session:
        assert session.scalars(select(Run.state)).one() == RunState.DONE
        assert {d.state for d in session.scalars(select(Delivery))} == {DeliveryState.SENT}
    assert len(list((data / "outbox").glob("*.eml"))) == 3


def test_a_garbled_queue_file_is_put_aside_and_the_demo_runs(tmp_path: Path) -> None:
    data = tmp_path / "data"
    queue = data / "broker" / "queue"
    queue.mkdir(parents=True)
    # As a crash mid-write of the old transport left it: a message file cut short.
    (queue / "0_00000000-0000-0000-0000-000000000000.collect.msg").write_bytes(b'{"body": "eyJ0YXNr')
    (queue / "0_00000000-0000-0000-0000-000000000001.control.msg").write_bytes(b"")
    result = tongket("demo", "--timeout", "300", env=environment(data))
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(p.name for p in (data / "broker" / "broken").iterdir()) == [
        "0_00000000-0000-0000-0000-000000000000.collect.msg",
        "0_00000000-0000-0000-0000-000000000001.control.msg",
    ]
