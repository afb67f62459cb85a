"""Fan-out: one report per unit of a level under a scope, planned in one statement and idempotent; the guards
judge each member; `runs list` shows the group as one line; a form collected once serves every run of the
cycle that needs it, and a province's report waits for its communes' own runs, then renders on its own queue."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests import processes
from tests.cli import tongket
from tests.factories import REPORT_DATE, district, drop_form
from tests.processes import end, environment, wait_until, worker
from tongket.models.db import session_scope
from tongket.models.errors import RunRefused
from tongket.models.periods import Period
from tongket.models.tables import (
    CommuneMail,
    Contact,
    Fanout,
    Level,
    MailKind,
    Run,
    RunState,
    RunUnit,
    Submission,
    Unit,
    UnitState,
)
from tongket.scheduler import schedules
from tongket.scheduler.fanout import Planned, plan_fanout
from tongket.scheduler.plan import plan_run
from tongket.scheduler.tick import plan_due
from tongket.worker import states
from tongket.worker.collect import shared
from tongket.worker.collect.step import collect_once
from tongket.worker.runs import communes
from tongket.worker.settings import Settings
from tongket.worker.states import Next

YEAR = Period.parse("2023")


def _fanout(session: Session, scope: Unit, level: Level = Level.COMMUNE) -> Planned:
    return plan_fanout(
        session, scope=scope, level=level, kind="annual", period=YEAR, report_date=REPORT_DATE, today=date.today()
    )


def _province(session: Session, communes: int = 3) -> tuple[Unit, list[Unit]]:
    scope, units = district(session, communes=communes)
    assert scope.parent is not None
    return scope.parent, units


def test_a_fanout_plans_one_run_per_commune_once(session: Session) -> None:
    province, units = _province(session)
    first = _fanout(session, province)
    again = _fanout(session, province)  # a second command, or a second beat
    assert len(first.created) == 3 and first.existing == 0 and first.refused == []
    assert again.fanout_id == first.fanout_id and again.created == [] and again.existing == 3
    runs = session.scalars(select(Run).order_by(Run.id)).all()
    assert [(r.scope_unit_id, r.fanout_id, r.revision) for r in runs] == [(u.id, first.fanout_id, 0) for u in units]


def test_the_guards_refuse_one_member_and_let_the_others_go(session: Session) -> None:
    province, _ = _province(session, communes=2)
    empty = Unit(code="679", name="Huyện Trống", level=Level.DISTRICT, parent=province)
    session.add(empty)
    session.flush()
    planned = _fanout(session, province, Level.DISTRICT)
    assert len(planned.created) == 1
    assert [code for code, _ in planned.refused] == ["679"]
    assert "has no communes during 2023" in planned.refused[0][1]
    assert session.scalars(select(Unit.code).join(Run, Run.scope_unit_id == Unit.id)).all() == ["678"]


def test_a_fanout_schedule_plans_its_members_at_the_tick_once(session: Session) -> None:
    province, units = _province(session)
    added = schedules.add(session, schedules.Plan("68", "year", each="commune"))
    own = schedules.add(session, schedules.Plan("68", "year"))  # the province's own report beside it
    for schedule in (added, own):  # made before the period fell due
        schedule.created_at = datetime(2025, 12, 1, tzinfo=UTC)
    session.flush()
    now = datetime(2026, 1, 10, 3, tzinfo=UTC)
    created = plan_due(session, now, timedelta(days=30))
    assert plan_due(session, now, timedelta(days=30)) == []  # the next tick finds them planned
    runs = session.scalars(select(Run).where(Run.id.in_(created))).all()
    by_schedule = {(r.schedule_id, r.scope_unit_id, r.fanout_id is not None) for r in runs}
    assert by_schedule == {(added.id, u.id, True) for u in units} | {(own.id, province.id, False)}
    assert {r.period.id for r in runs} == {"2025"}


def test_runs_list_shows_a_fanout_as_one_line(session: Session, db_url: str, tmp_path: Path) -> None:
    province, units = _province(session)
    planned = _fanout(session, province)
    states.cancel(session, planned.created[0])
    session.get_one(Run, planned.created[1]).state = RunState.DONE
    session.commit()
    env = {**environment(tmp_path, database_url=db_url), "COLUMNS": "250"}
    listed = tongket("runs", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert f"fan-out #{planned.fanout_id} commune × 3 of 68 · 2023: 1 done, 1 waiting, 1 failed" in listed.stdout
    assert listed.stdout.count("annual") == 1  # the group, not its members
    grouped = json.loads(tongket("runs", "list", "--json", env=env).stdout)
    assert [(g["fanout"], g["members"], g["done"], g["waiting"], g["failed"]) for g in grouped] == [
        (planned.fanout_id, 3, 1, 1, 1)
    ]
    members = json.loads(tongket("runs", "list", "--fanout", str(planned.fanout_id), "--json", env=env).stdout)
    assert sorted(m["id"] for m in members) == sorted(planned.created)
    every = json.loads(tongket("runs", "list", "--all", "--json", env=env).stdout)
    assert {m["fanout"] for m in every} == {planned.fanout_id} and len(every) == 3


def test_a_form_is_collected_once_for_the_commune_and_its_province(session: Session, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url="sqlite://")
    province, units = _province(session)
    for unit in units:
        drop_form(session, settings.dropbox_dir, unit, "2023", {"security_teams": 4})
    parent = plan_run(session, scope=province, kind="annual", period=YEAR, report_date=REPORT_DATE)
    fan = _fanout(session, province)
    follow: list[Next] = []
    for run_id in [parent.id, *fan.created]:  # the province's run starts with its communes' own runs
        follow += communes.start(session, run_id, settings)
    collects = [n for n in follow if n.task == "tongket.collect_unit"]
    own_run = {u.id: run_id for u, run_id in zip(units, fan.created, strict=True)}
    assert sorted(n.args for n in collects) == sorted((own_run[u.id], u.id) for u in units)  # one per form
    after: list[Next] = []
    for item in collects:
        assert states.state_of(session, parent.id) == RunState.COLLECTING  # the province waits for them
        assert collect_once(session, int(item.args[0]), int(item.args[1]), settings) is None
        after += shared.after_collect(session, int(item.args[0]), int(item.args[1]))
    assert after.count(Next("tongket.finish_collecting", (parent.id,))) == 3
    assert states.finish_collecting(session, parent.id) == [Next("tongket.render_run", (parent.id,), "render_big")]
    settled = session.scalars(select(RunUnit.state).where(RunUnit.run_id == parent.id)).all()
    assert settled == [UnitState.COLLECTED] * 3
    assert session.scalar(select(func.count()).select_from(Submission)) == 3
    # A commune's own report renders on the ordinary render queue.
    assert Next("tongket.render_run", (fan.created[0],)) in after


def test_a_run_started_later_in_the_cycle_is_settled_without_collecting(session: Session, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url="sqlite://")
    province, units = _province(session, communes=2)
    for unit in units:
        drop_form(session, settings.dropbox_dir, unit, "2023", {"security_teams": 2})
    fan = _fanout(session, province)
    for run_id in fan.created:
        for item in communes.start(session, run_id, settings):
            if item.task == "tongket.collect_unit":
                collect_once(session, int(item.args[0]), int(item.args[1]), settings)
    parent = plan_run(session, scope=province, kind="annual", period=YEAR, report_date=REPORT_DATE)
    follow = communes.start(session, parent.id, settings)
    assert [n.task for n in follow] == ["tongket.render_run"] and follow[0].queue == "render_big"
    reported = session.scalars(select(RunUnit.reported_at).where(RunUnit.run_id == parent.id)).all()
    assert all(at is not None for at in reported)


@pytest.mark.parametrize("level", [Level.PROVINCE, Level.COUNTRY])
def test_big_reports_render_on_their_own_queue(session: Session, level: Level) -> None:
    scope, _ = district(session, communes=1)
    big = scope.parent if level is Level.PROVINCE else Unit(code="VN", name="Toàn quốc", level=Level.COUNTRY)
    assert big is not None
    if level is Level.COUNTRY:
        session.add(big)
        session.flush()
        scope.parent.parent_id = big.id  # type: ignore[union-attr]
        session.flush()
    run = plan_run(session, scope=big, kind="annual", period=YEAR, report_date=REPORT_DATE)
    assert states.render_next(session, run.id) == Next("tongket.render_run", (run.id,), "render_big")


@pytest.mark.integration
@pytest.mark.slow
def test_a_fanout_and_its_province_on_a_real_worker(pg_url: str, redis_url: str, tmp_path: Path) -> None:
    """Commune runs and the province's run, on a worker that takes every queue but `render`: each form is
    collected once, the province renders on `render_big` and ends, the communes' reports wait for `render`."""
    env = environment(tmp_path, database_url=pg_url, broker_url=redis_url)
    with session_scope(pg_url) as session:
        _, units = _province(session)
        for unit in units:
            drop_form(session, tmp_path / "dropbox", unit, "2023", {"security_teams": 3})
    log = tmp_path / "worker.log"
    process = worker(env, log, queues="control,collect,render_big,mail", concurrency=2)
    try:
        fanned = processes.tongket("run", "--unit", "68", "--each", "commune", "--period", "2023", env=env)
        assert fanned.returncode == 0, fanned.stderr
        assert "commune × 3 of Tỉnh Lâm Đồng (68) · 2023: 3 runs planned" in " ".join(fanned.stdout.split())
        own = processes.tongket("run", "--unit", "68", "--period", "2023", env=env)
        assert own.returncode == 0, own.stderr

        def states_now() -> dict[str, RunState]:
            with session_scope(pg_url) as s:
                rows = s.execute(select(Unit.code, Run.state).join(Unit, Unit.id == Run.scope_unit_id)).all()
                return {code: RunState(state) for code, state in rows}

        wait_until(lambda: states_now().get("68") == RunState.DONE, 90, "the province's report")
        wait_until(lambda: set(states_now().values()) == {RunState.DONE, RunState.RENDERING}, 30, "the communes")
    finally:
        end(process)
    assert states_now() == {"68": RunState.DONE, **{u.code: RunState.RENDERING for u in units}}
    # Once per form: by a collect task (received + succeeded), or by its run's start task on the way (its result).
    text = log.read_text()
    assert text.count("Task tongket.collect_unit[") // 2 + text.count("also done here: collect_unit") == 3
    with session_scope(pg_url) as session:
        assert session.scalar(select(func.count()).select_from(Submission)) == 3


def test_a_commune_is_asked_for_its_form_once_not_once_per_report(session: Session, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url="sqlite://")
    province, units = _province(session, communes=2)
    session.add(Contact(unit_id=units[0].id, name="Cán bộ xã", email="xa1@example.vn"))
    session.flush()
    parent = plan_run(session, scope=province, kind="annual", period=YEAR, report_date=REPORT_DATE)
    fan = _fanout(session, province)
    for run_id in [parent.id, *fan.created]:
        communes.start(session, run_id, settings)
    asked = session.scalars(select(CommuneMail.run_id).where(CommuneMail.kind == MailKind.REQUEST)).all()
    assert asked == [fan.created[0]]  # by the commune's own run, not again by its province's


def test_a_form_collected_before_the_province_start_committed_still_settles_it(
    session: Session, tmp_path: Path
) -> None:
    """The commune's `share` ran before the province's start committed, so it could not see the province's
    units; the start's own follow-up, run after its commit, settles them from the stored form."""
    settings = Settings(data_dir=tmp_path, database_url="sqlite://")
    province, units = _province(session, communes=1)
    drop_form(session, settings.dropbox_dir, units[0], "2023", {"security_teams": 1})
    fan = _fanout(session, province)
    own = communes.start(session, fan.created[0], settings)
    parent = plan_run(session, scope=province, kind="annual", period=YEAR, report_date=REPORT_DATE)
    follow = communes.start(session, parent.id, settings)
    assert follow == [Next("tongket.settle_shared", (parent.id,))]  # no collect task: its own run collects it
    collect_once(session, fan.created[0], units[0].id, settings)  # ...and its share saw nothing to settle
    assert [n.task for n in own] == ["tongket.collect_unit"]
    assert shared.settle_after_start(session, parent.id, settings.collect_minutes) == [
        Next("tongket.render_run", (parent.id,), "render_big")
    ]
    assert shared.settle_after_start(session, parent.id, settings.collect_minutes) == []  # a repeated message


def test_a_period_not_over_refuses_the_whole_fanout_and_writes_nothing(session: Session) -> None:
    province, _ = _province(session)
    with pytest.raises(RunRefused, match="is not over"):
        plan_fanout(
            session,
            scope=province,
            level=Level.COMMUNE,
            kind="annual",
            period=Period.parse("2026"),
            report_date=REPORT_DATE,
            today=date(2026, 12, 3),
        )
    assert session.scalar(select(func.count()).select_from(Fanout)) == 0


def test_a_forced_rerun_reads_the_communes_again(session: Session, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url="sqlite://")
    province, units = _province(session, communes=2)
    for unit in units:
        drop_form(session, settings.dropbox_dir, unit, "2023", {"security_teams": 2})
    first = plan_run(session, scope=province, kind="annual", period=YEAR, report_date=REPORT_DATE)
    for item in communes.start(session, first.id, settings):
        if item.task == "tongket.collect_unit":
            collect_once(session, first.id, int(item.args[1]), settings)
    forced = plan_run(session, scope=province, kind="annual", period=YEAR, report_date=REPORT_DATE, force=True)
    follow = communes.start(session, forced.id, settings)
    assert sorted(n.args for n in follow if n.task == "tongket.collect_unit") == [(forced.id, u.id) for u in units]
