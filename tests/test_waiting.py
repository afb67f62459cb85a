"""`runs show` says what each waiting part of a run waits for and until when at the latest (issue 11, item 9):
the collection deadline, a commune's next try, an email's next try or the lease a worker holds on it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from tests.factories import district
from tests.processes import environment, tongket
from tongket.models.periods import Period
from tongket.models.tables import Delivery, DeliveryState, ReportKind, Run, RunState, RunUnit, UnitState

DEADLINE = datetime(2026, 12, 3, 18, 0, tzinfo=UTC)
TRIED = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


def test_runs_show_says_until_when_each_part_waits(session: Session, db_url: str, tmp_path: Path) -> None:
    scope, communes = district(session, communes=3)
    run = Run(
        scope_unit_id=scope.id,
        kind=ReportKind.ANNUAL,
        period=Period.parse("2025"),
        report_date=date(2026, 1, 5),
        state=RunState.COLLECTING,
        collect_deadline=DEADLINE,
    )
    session.add(run)
    session.flush()
    session.add_all(
        [
            # tried 3 times: the backoff after the third try is 30 s * 2**2 = 120 s before its jitter
            RunUnit(run_id=run.id, unit_id=communes[0].id, state=UnitState.PENDING, attempts=3, updated_at=TRIED),
            # tried 9 times: the cap (300 s), far before the deadline
            RunUnit(run_id=run.id, unit_id=communes[1].id, state=UnitState.PENDING, attempts=9, updated_at=TRIED),
            # tried just before the deadline: its next try is the deadline itself
            RunUnit(
                run_id=run.id,
                unit_id=communes[2].id,
                state=UnitState.PENDING,
                attempts=9,
                updated_at=datetime(2026, 12, 3, 17, 59, tzinfo=UTC),
            ),
        ]
    )
    session.add_all(
        [
            Delivery(
                run_id=run.id,
                name="A",
                email="a@example.vn",
                message_id="<a@x>",
                state=DeliveryState.PENDING,
                attempts=2,  # the backoff after the second try: 15 s * 2 = 30 s
                last_error="451 try again later",
                state_changed_at=TRIED,
            ),
            Delivery(
                run_id=run.id,
                name="B",
                email="b@example.vn",
                message_id="<b@x>",
                state=DeliveryState.SENDING,
                attempts=1,
                state_changed_at=TRIED,
            ),
            Delivery(run_id=run.id, name="C", email="c@example.vn", message_id="<c@x>"),  # not tried yet
        ]
    )
    session.commit()

    shown = tongket("runs", "show", str(run.id), env=environment(tmp_path, database_url=db_url) | {"COLUMNS": "250"})

    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert "Collecting until the deadline, 2026-12-03 18:00:00 UTC." in out
    assert "next try by 2026-12-03 10:02:00 UTC" in out
    assert "next try by 2026-12-03 10:05:00 UTC" in out
    assert "next try by 2026-12-03 18:00:00 UTC" in out
    assert "Email to a@example.vn: pending (451 try again later); next try by 2026-12-03 10:00:30 UTC" in out
    assert "Email to b@example.vn: sending; lease held until 2026-12-03 10:05:00 UTC" in out
    email_c = next(line for line in out.splitlines() if line.startswith("Email to c@example.vn"))
    assert "next try" not in email_c and "lease" not in email_c
