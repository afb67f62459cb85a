"""A whole run driven step by step in one process: collect, aggregate, render, deliver to the outbox."""

from __future__ import annotations

import email
import hashlib
import unicodedata
from io import BytesIO
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import REPORT_DATE, district, drop_form
from tongket.models.periods import Period
from tongket.models.tables import Artifact, Delivery, DeliveryState, Run, RunState, RunUnit, Submission, UnitState
from tongket.scheduler.plan import plan_run
from tongket.worker import states
from tongket.worker.collect.step import collect_once
from tongket.worker.deliver import flow
from tongket.worker.runs import pipeline
from tongket.worker.settings import Settings


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=db_url)


def drive(session: Session, settings: Settings, run_id: int) -> None:
    """Do what the workers would do, in order, each step once (no time to wait: a silent unit is missing)."""
    for item in states.start_run(session, run_id, collect_minutes=0):
        collect_once(session, *item.args, settings)
    for item in states.finish_collecting(session, run_id):
        for delivery in pipeline.render(session, *item.args, settings):
            session.commit()  # the delivery step works in transactions of its own
            assert flow.deliver(*delivery.args, settings).state == DeliveryState.SENT


def pdf_text(path: str) -> str:
    reader = PdfReader(BytesIO(Path(path).read_bytes()))
    return " ".join(unicodedata.normalize("NFC", " ".join(page.extract_text() for page in reader.pages)).split())


def test_a_rejected_commune_is_reported_and_the_run_completes(session: Session, settings: Settings) -> None:
    scope, (good, negative, unknown, silent) = district(session, communes=4)
    drop_form(session, settings.dropbox_dir, good, "2023", {"security_teams": 7, "patrol_teams": 2})
    bad = drop_form(session, settings.dropbox_dir, negative, "2023", {"security_teams": 3})
    _set_cell(bad, "security_teams", -4)
    odd = drop_form(session, settings.dropbox_dir, unknown, "2023", {"security_teams": 5})
    _set_code(odd, "security_teams", "secret_police_teams")
    run = plan_run(session, scope=scope, kind="annual", period=Period.parse("2023"), report_date=REPORT_DATE)

    drive(session, settings, run.id)

    assert session.scalar(select(Run.state).where(Run.id == run.id)) == RunState.DONE
    unit_states = {ru.unit.code: (ru.state, ru.errors) for ru in session.scalars(select(RunUnit))}
    assert unit_states[good.code][0] == UnitState.COLLECTED
    assert unit_states[silent.code][0] == UnitState.MISSING
    assert unit_states[negative.code][0] == UnitState.REJECTED
    assert any(negative.code in e and "ô F" in e and "-4" in e for e in unit_states[negative.code][1]), unit_states
    assert unit_states[unknown.code][0] == UnitState.REJECTED
    assert any("secret_police_teams" in e for e in unit_states[unknown.code][1])

    artifact = session.scalars(select(Artifact)).one()
    text = pdf_text(artifact.path)
    assert "bị từ chối" in text and negative.name in text and "secret_police_teams" in text
    assert "Tổ an ninh nhân dân" in text
    mails = session.scalars(select(Delivery)).all()
    assert [m.state for m in mails] == [DeliveryState.SENT]
    message = email.message_from_bytes(next(settings.outbox_dir.glob("*.eml")).read_bytes())
    attachment = next(p for p in message.walk() if p.get_content_type() == "application/pdf")
    assert hashlib.sha256(attachment.get_payload(decode=True)).hexdigest() == artifact.sha256


def test_collecting_again_stores_nothing_twice(session: Session, settings: Settings) -> None:
    scope, (unit, *_) = district(session, communes=1)
    drop_form(session, settings.dropbox_dir, unit, "2023", {"security_teams": 7})
    for force in (False, True):
        run = plan_run(
            session, scope=scope, kind="annual", period=Period.parse("2023"), report_date=REPORT_DATE, force=force
        )
        drive(session, settings, run.id)
    assert len(session.scalars(select(Submission)).all()) == 1


def _set_cell(path: Path, code: str, value: object) -> None:
    _edit(path, code, value_column=True, value=value)


def _set_code(path: Path, code: str, new_code: str) -> None:
    _edit(path, code, value_column=False, value=new_code)


def _edit(path: Path, code: str, *, value_column: bool, value: object) -> None:
    """Change a filled form the way a careless officer would, in Excel."""
    from openpyxl import load_workbook

    workbook = load_workbook(path)
    sheet = workbook["Biểu mẫu"]
    for row in sheet.iter_rows():
        for cell in row:
            if cell.value == code:
                target = sheet.cell(row=cell.row, column=cell.column + 4) if value_column else cell
                target.value = value
                workbook.save(path)
                return
    raise AssertionError(f"{code} not in the form")
