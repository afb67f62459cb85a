"""What a run must be before it is planned: a report somebody should get.

Every entry point (the CLI, Flower's `request_run`, the beat's tick, the demo) plans through `plan.py`,
which calls `check` here; a refusal names what to ask for instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from tongket.models.errors import RunRefused, UnknownUnit
from tongket.models.periods import Period, PeriodType
from tongket.models.tables import Indicator, IndicatorLevel, Level, Recipient, ReportKind, Unit, UnitSuccession
from tongket.models.units import expected_units, unit_by_code

MAX_YEARS = 30  # the longest review: a multi-decade programme review is split into reviews of this length

KIND_OF_PERIOD = {
    PeriodType.MONTH: ReportKind.MONTHLY,
    PeriodType.QUARTER: ReportKind.QUARTERLY,
    PeriodType.HALF: ReportKind.HALF_YEAR,
    PeriodType.YEAR: ReportKind.ANNUAL,
    PeriodType.YEARS: ReportKind.MULTI_YEAR,
}

_PERIOD_WORDS = {
    PeriodType.MONTH: "a month",
    PeriodType.QUARTER: "a quarter",
    PeriodType.HALF: "a half year",
    PeriodType.YEAR: "a year",
    PeriodType.YEARS: "a range of years",
}
_EXAMPLE_OF_KIND = {
    ReportKind.MONTHLY: "a month such as 2023-05",
    ReportKind.QUARTERLY: "a quarter such as 2023Q2",
    ReportKind.HALF_YEAR: "a half year such as 2023S1",
    ReportKind.ANNUAL: "a year such as 2023",
    ReportKind.MULTI_YEAR: "a range of years such as 2014..2023",
}


def kind_of(period: Period) -> ReportKind:
    """The one report kind a period allows."""
    return KIND_OF_PERIOD[period.type]


def check(session: Session, *, scope: Unit, kind: str, period: Period, today: date, preliminary: bool) -> None:
    """Refuse (RunRefused) a report nobody should get; the message says what to ask for instead."""
    _span(period)
    _kind(kind, period)
    _over(period, today, preliminary)
    _unit_existed(scope, period)
    _catalogue(session, period)
    _expected(session, scope, period)


def check_each(session: Session, *, units: Sequence[Unit], kind: str, period: Period, today: date) -> dict[int, str]:
    """The guards of `check` for the members of a fan-out: what concerns the period is judged once (a refusal
    refuses them all), what concerns a unit per unit; returns why each refused unit was refused, by id."""
    _span(period)
    _kind(kind, period)
    _over(period, today, False)
    _catalogue(session, period)
    refused = {}
    for unit in units:
        try:
            _unit_existed(unit, period)
            if unit.level != Level.COMMUNE:  # a commune valid during the period expects itself: no query
                _expected(session, unit, period)
        except RunRefused as why:
            refused[unit.id] = str(why)
    return refused


def scope_of(session: Session, code: str, period: Period) -> Unit:
    """The unit a report on `code` over `period` is about: the one carrying the code at the period's end.
    A code carried only later is refused with the day its unit began."""
    try:
        return unit_by_code(session, code, on=period.end)
    except UnknownUnit:
        later = unit_by_code(session, code)  # raises the usual "no unit has code …" when there is none
        raise RunRefused(_before_unit(later, period)) from None


def no_recipients(session: Session, scope: Unit, schedule_id: int | None) -> str | None:
    """A warning when nobody will receive the report (it is still rendered and stored)."""
    wanted: ColumnElement[bool] = Recipient.schedule_id.is_(None)
    if schedule_id is not None:
        wanted = or_(wanted, Recipient.schedule_id == schedule_id)
    count = session.scalar(
        select(func.count()).select_from(Recipient).where(Recipient.unit_id == scope.id, Recipient.enabled, wanted)
    )
    if count:
        return None
    return (
        f"unit {scope.code} has no recipients: the report will be stored but emailed to nobody; "
        f"add one with `tongket recipients add --unit {scope.code} --email … --name …`"
    )


def _span(period: Period) -> None:
    if period.years > MAX_YEARS:
        last = period.start.year + MAX_YEARS - 1
        raise RunRefused(
            f"{period.id} spans {period.years} years; a review covers at most {MAX_YEARS}: "
            f"write e.g. {period.start.year}..{last}, or several shorter reviews"
        )


def _kind(kind: str, period: Period) -> None:
    wanted = kind_of(period)
    if kind != wanted:
        asked = ReportKind(kind)
        raise RunRefused(
            f"kind {asked} cannot cover {period.id} ({_PERIOD_WORDS[period.type]}): "
            f"ask for kind {wanted} (or leave the kind out), or for {_EXAMPLE_OF_KIND[asked]}"
        )


def _over(period: Period, today: date, preliminary: bool) -> None:
    if period.start > today:
        raise RunRefused(
            f"{period.id} has not begun (it starts on {period.start:%d/%m/%Y}): "
            f"ask for a finished period such as {last_finished(period.type, today, period.years).id}"
        )
    if period.end >= today and not preliminary:
        raise RunRefused(
            f"{period.id} is not over (it ends on {period.end:%d/%m/%Y}): ask for a finished period such as "
            f"{last_finished(period.type, today, period.years).id}, or for a preliminary report "
            "(`tongket run … --preliminary`; `request_run` takes true as its fourth argument), "
            "marked “Số liệu sơ bộ” on every page"
        )


def last_finished(ptype: PeriodType, today: date, years: int = 1) -> Period:
    """The latest period of a type (and length, for ranges of years) that ended before today."""
    if ptype is PeriodType.YEARS:
        return Period(date(today.year - years, 1, 1), date(today.year - 1, 12, 31), ptype)
    return Period.containing(ptype, today).previous()


def _unit_existed(scope: Unit, period: Period) -> None:
    if period.end < scope.valid_from:
        raise RunRefused(_before_unit(scope, period))


def _before_unit(unit: Unit, period: Period) -> str:
    return (
        f"unit {unit.code} ({unit.name}) began on {unit.valid_from:%d/%m/%Y}, after {period.id} ended: "
        f"ask for a period that ends on or after that day, or report on the units before it "
        f"(`tongket units list` shows them with their dates)"
    )


def _catalogue(session: Session, period: Period) -> None:
    """The catalogue must have indicators for the period: none loaded, or all begun later, is refused."""
    first = session.scalar(select(func.min(Indicator.valid_from)).where(Indicator.level == IndicatorLevel.COMMUNE))
    if first is None:
        raise RunRefused("the indicator catalogue is not loaded: run `tongket migrate`, then load it (`tongket demo`)")
    if period.end < first:
        raise RunRefused(
            f"the indicator catalogue begins on {first:%d/%m/%Y}, after {period.id} ended: "
            "ask for a period that ends on or after that day"
        )


def _expected(session: Session, scope: Unit, period: Period) -> None:
    if expected_units(session, scope.id, period):
        return
    why = f"unit {scope.code} ({scope.name}) has no communes during {period.id}"
    if scope.valid_to is not None and scope.valid_to < period.start:
        heirs = _successors(session, scope)
        where = f"its successors ({', '.join(heirs)})" if heirs else "the units that took over its area"
        raise RunRefused(
            f"{why}: it ended on {scope.valid_to:%d/%m/%Y}; ask for a period that begins by then, or report on {where}"
        )
    raise RunRefused(f"{why}: `tongket units list --under {scope.code}` shows its units and their dates")


def _successors(session: Session, unit: Unit) -> Sequence[str]:
    return session.scalars(
        select(Unit.code)
        .join(UnitSuccession, UnitSuccession.new_unit_id == Unit.id)
        .where(UnitSuccession.old_unit_id == unit.id)
        .order_by(Unit.code)
    ).all()
