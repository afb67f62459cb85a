"""`tongket schedules …` and `tongket runs cancel` as an operator types them: what they print, and what
they change in the database."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests import processes
from tests.cli import tongket
from tests.factories import REPORT_DATE, district
from tests.processes import environment
from tongket.models.db import migrate, session_scope
from tongket.models.errors import ConfigError
from tongket.models.periods import Period
from tongket.models.tables import Delivery, DeliveryState, RunState, Schedule, Unit
from tongket.scheduler import schedules
from tongket.scheduler.plan import plan_run
from tongket.scheduler.schedules import Plan


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    migrate(f"sqlite:///{tmp_path / 'tongket.db'}")
    with session_scope(f"sqlite:///{tmp_path / 'tongket.db'}") as session:
        district(session)
    return tmp_path


def cli(data_dir: Path, *args: str) -> tuple[int, str]:
    env = environment(data_dir)
    env["COLUMNS"] = "250"  # one table row per line
    result = tongket(*args, env=env, timeout=60)
    return result.returncode, " ".join((result.stdout + result.stderr).split())


def test_schedules_are_added_listed_switched_and_removed(data_dir: Path) -> None:
    code, out = cli(
        data_dir,
        "schedules",
        "add",
        "--unit",
        "678",
        "--period-type",
        "quarter",
        "--cron",
        "0 8 5 1,4,7,10 *",
        "--owner",
        "truong@example.vn",
    )
    assert code == 0, out
    assert "Schedule 1 added: quarterly reports of Huyện Đức Trọng (678), due cron '0 8 5 1,4,7,10 *'" in out
    assert "Next report: " in out
    assert (
        cli(
            data_dir, "schedules", "add", "--unit", "678", "--period-type", "month", "--lag-days", "10", "--at", "07:30"
        )[0]
        == 0
    )
    code, out = cli(data_dir, "schedules", "disable", "2")
    assert (code, out) == (0, "Schedule 2 is off.")
    code, out = cli(data_dir, "schedules", "list")
    first = (
        "│ 1 │ 678 Huyện Đức Trọng │ quarterly │ cron '0 8 5 1,4,7,10 *' │ Asia/Ho_Chi_Minh │ truong@example.vn │ yes"
    )
    assert first in out, out
    assert "│ 2 │ 678 Huyện Đức Trọng │ monthly │ 10 days after the period, 07:30 │" in out and "│ no │" in out
    assert cli(data_dir, "schedules", "enable", "2") == (0, "Schedule 2 is on.")
    code, out = cli(data_dir, "schedules", "edit", "2", "--cron", "0 7 3 * *", "--owner", "pho@example.vn")
    assert code == 0 and "Schedule 2: due cron '0 7 3 * *' (Asia/Ho_Chi_Minh), owners: pho@example.vn." in out, out
    assert (
        "error: cron '0 7 3 * * *' needs 5 fields"
        in cli(data_dir, "schedules", "edit", "2", "--cron", "0 7 3 * * *")[1]
    )
    code, out = cli(data_dir, "schedules", "edit", "2", "--cron", "", "--at", "07:30")
    assert "Schedule 2: due 10 days after the period, 07:30" in out, out
    assert cli(data_dir, "schedules", "remove", "1") == (0, "Schedule 1 removed; its 0 runs are kept.")
    with session_scope(f"sqlite:///{data_dir / 'tongket.db'}") as session:
        assert session.execute(select(Schedule.id, Schedule.enabled, Schedule.lag_days)).all() == [(2, True, 10)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--unit", "6788", "--period-type", "month"], "error: no unit has code '6788'; did you mean 678"),
        (
            ["--unit", "678", "--period-type", "monthly"],
            "error: 'monthly' is not a period type for a schedule; did you mean month?",
        ),
        (["--unit", "678", "--period-type", "month", "--cron", "0 8 * *"], "needs 5 fields"),
        (["--unit", "678", "--period-type", "month", "--at", "25:00"], "'25:00' is not HH:MM"),
        (["--unit", "678", "--period-type", "month", "--kind", "annual"], "a month schedule makes monthly reports"),
        (["--unit", "678", "--period-type", "year", "--owner", "nobody"], "'nobody' is not an email address"),
        (["--unit", "678", "--period-type", "year", "--timezone", "Hanoi"], "unknown time zone 'Hanoi'"),
    ],
)
def test_wrong_input_is_refused_with_a_suggestion(data_dir: Path, args: list[str], message: str) -> None:
    code, out = cli(data_dir, "schedules", "add", *args)
    assert code == 1 and message in out, out


def test_unknown_schedule_and_cancel(data_dir: Path) -> None:
    assert cli(data_dir, "schedules", "disable", "7") == (
        1,
        "error: no schedule 7; `tongket schedules list` shows them",
    )
    url = f"sqlite:///{data_dir / 'tongket.db'}"
    with session_scope(url) as session:
        scope = session.scalars(select(Unit).where(Unit.code == "678")).one()
        run = plan_run(session, scope=scope, kind="annual", period=Period.parse("2023"), report_date=REPORT_DATE)
        run.state = RunState.DELIVERING
        session.add(Delivery(run_id=run.id, name="A", email="a@example.vn", message_id="<a@x>"))
        run_id = run.id
    assert cli(data_dir, "runs", "cancel", str(run_id)) == (
        0,
        f"Run {run_id} cancelled (it was delivering); work under way stops at its next step.",
    )
    assert cli(data_dir, "runs", "cancel", str(run_id)) == (
        1,
        f"error: run {run_id} has ended (cancelled); there is nothing to cancel",
    )
    with session_scope(url) as session:
        assert session.execute(select(Delivery.state, Delivery.last_error)).one() == (
            DeliveryState.FAILED,
            "cancelled by an operator",
        )


def test_owners_pass_the_same_address_check_as_recipients(session: Session) -> None:
    district(session)
    plan = Plan(unit_code="678", period_type="year", owners=["Truong-CA@DucTrong.Gov.VN"])
    assert schedules.add(session, plan).owners == ["Truong-CA@ductrong.gov.vn"]  # stored as it is sent
    for bad in ("trưởng@ductrong.gov.vn", "a..b@ductrong.gov.vn", "ca@localhost"):
        with pytest.raises(ConfigError, match="is not an email address"):
            schedules.add(session, Plan(unit_code="678", period_type="quarter", owners=[bad]))


def test_a_run_without_wait_names_the_worker_command_that_picks_it_up(data_dir: Path) -> None:
    done = processes.tongket("run", "--unit", "678", "--period", "2023", env=environment(data_dir))
    assert done.returncode == 0, done.stdout + done.stderr
    out = " ".join(done.stdout.split())
    assert (
        "`celery -A tongket.worker.app worker -Q control,collect,render,render_big,mail`" in out
    )  # the installed name
