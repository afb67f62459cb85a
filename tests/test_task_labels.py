"""Flower shows a task's arguments as sent: next to the ids, the unit code and period they stand for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.deliveries import rendered_run
from tongket.models.db import session_scope
from tongket.models.tables import RunUnit
from tongket.worker import app as celery_glue
from tongket.worker.settings import Settings, get_settings
from tongket.worker.states import Next


def test_argsrepr_names_the_unit_and_period(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TONGKET_DATABASE_URL", db_url)
    monkeypatch.setenv("TONGKET_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    try:
        run_id, (delivery_id,) = rendered_run(Settings(data_dir=tmp_path / "data", database_url=db_url))
        with session_scope(db_url) as session:
            unit_id = session.scalars(select(RunUnit.unit_id)).one()
        follow = [
            Next("tongket.collect_unit", (run_id, unit_id)),
            Next("tongket.render_run", (run_id,)),
            Next("tongket.deliver", (delivery_id,)),
        ]
        sent: list[dict[str, Any]] = []
        # Catch the message at the producer: the broker of this test process is not a server it owns.
        monkeypatch.setattr(
            celery_glue.app, "send_task", lambda name, **options: sent.append({"name": name, **options})
        )
        celery_glue.send(follow)
    finally:
        get_settings.cache_clear()

    assert [m["args"] for m in sent] == [[run_id, unit_id], [run_id], [delivery_id]]  # ids only in the message
    assert [m["argsrepr"] for m in sent] == [
        f"({run_id}, {unit_id}) run {run_id}: 678 annual 2023, unit 24901",
        f"({run_id},) run {run_id}: 678 annual 2023",
        f"({delivery_id},) email of run {run_id}: 678 annual 2023",
    ]
