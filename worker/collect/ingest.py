"""Storing what a unit delivered: parsed, validated and kept as a versioned submission.

The same bytes again are a no-op; changed content for a period becomes a new version beside the old one;
a rejected delivery is kept with its problems and never touches accepted data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict
from functools import cache
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, func, insert, literal, select
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from tongket.models.catalogue import catalogue
from tongket.models.db import upsert_statement
from tongket.models.errors import BadPeriod
from tongket.models.periods import Period
from tongket.models.tables import Submission, SubmissionStatus, Unit, Value, utcnow
from tongket.worker.collect.formats import read_delivery
from tongket.worker.collect.history import history_warnings
from tongket.worker.collect.problems import FormRejected, Problem
from tongket.worker.collect.validate import validate_form
from tongket.worker.report.indicators import indicators_in


def ingest(
    session: Session, unit: Unit, data: bytes, *, origin: str, source_id: int | None = None, max_bytes: int = 5_000_000
) -> Submission:
    """Store one delivered form for a unit; returns the accepted or rejected submission."""
    checksum = hashlib.sha256(data).hexdigest()
    known = session.scalars(_known_statement(), {"unit_id": unit.id, "checksum": checksum}).first()
    if known is not None:
        return known
    period_id = ""
    try:
        raw = read_delivery(data, origin=origin, max_bytes=max_bytes)
        period_id = raw.period_id
        period = _period(raw.period_id, unit.code)
        entries = catalogue(session)
        indicators = indicators_in(entries, period)
        values = validate_form(raw, expected_unit=unit.code, expected_period=period.id, indicators=indicators)
    except FormRejected as rejected:
        return _store(
            session, unit, source_id, origin, checksum, period_id, SubmissionStatus.REJECTED, errors=rejected.problems
        )[0]
    warnings = history_warnings(session, unit, period, values)
    submission, created = _store(
        session, unit, source_id, origin, checksum, period.id, SubmissionStatus.ACCEPTED, errors=warnings
    )
    if created:
        by_code = {entry.code: entry.id for entry in entries}
        rows = [
            {"submission_id": submission.id, "indicator_id": by_code[code], "value": v}
            for code, v in values.items()
            if v is not None
        ]
        if rows:  # one INSERT, without the unit of work's flush (it cost more than the INSERT itself)
            session.connection().execute(_VALUES, rows)
        stored = [Value(**row) for row in rows]
        for value in stored:
            make_transient_to_detached(value)  # stored already: the session must not insert it again
        session.add_all(stored)
        set_committed_value(submission, "values", stored)  # what it holds is known: no query to load it again
    return submission


_VALUES = insert(cast(Table, Value.__table__))


@cache
def _insert_statement(dialect: str, versioned: bool) -> Any:
    """The new submission, or nothing when the same delivery is stored already; an accepted one is the unit's
    next version for its period, counted by the INSERT itself."""
    column = Submission.__table__.c
    version: Any = literal(1)
    if versioned:
        version = (
            select(func.coalesce(func.max(Submission.version), 0) + 1)
            .where(Submission.unit_id == bindparam("b_unit_id"), Submission.period_id == bindparam("b_period_id"))
            .scalar_subquery()
        )
    key = ("unit_id", "period_id", "checksum")
    return upsert_statement(dialect, Submission, key=key, returning=Submission).values(
        unit_id=bindparam("b_unit_id", type_=column.unit_id.type),
        period_id=bindparam("b_period_id", type_=column.period_id.type),
        source_id=bindparam("b_source_id", type_=column.source_id.type),
        origin=bindparam("b_origin", type_=column.origin.type),
        received_at=bindparam("b_received_at", type_=column.received_at.type),
        checksum=bindparam("b_checksum", type_=column.checksum.type),
        version=version,
        status=bindparam("b_status", type_=column.status.type),
        errors=bindparam("b_errors", type_=column.errors.type),
    )


@cache
def _known_statement() -> Select[Submission]:
    # Built once: it runs for every delivery (building it costs more CPU than running it).
    return select(Submission).where(
        Submission.unit_id == bindparam("unit_id"), Submission.checksum == bindparam("checksum")
    )


def _period(period_id: str, unit_code: str) -> Period:
    try:
        return Period.parse(period_id)
    except BadPeriod as exc:
        problem = Problem(
            unit=unit_code,
            period=period_id,
            indicator="",
            cell="_meta!period",
            reason_vi=f"kỳ báo cáo không hợp lệ: {period_id!r}; hãy ghi kỳ như biểu mẫu (ví dụ 2023, 2023Q2 hoặc "
            "2023-05); nếu Excel đã tự đổi kỳ thành ngày tháng, hãy định dạng cột kỳ báo cáo là Văn bản (Text) "
            "rồi nhập lại",
            reason_en=str(exc),
        )
        raise FormRejected((problem,)) from exc


def _store(
    session: Session,
    unit: Unit,
    source_id: int | None,
    origin: str,
    checksum: str,
    period_id: str,
    status: SubmissionStatus,
    errors: Sequence[Problem] = (),
) -> tuple[Submission, bool]:
    """The new submission and True, or, when another worker stored the same delivery meanwhile, that one
    and False."""
    params = {
        "b_unit_id": unit.id,
        "b_period_id": period_id,
        "b_source_id": source_id,
        "b_origin": origin,
        "b_checksum": checksum,
        "b_status": status,
        "b_errors": [asdict(p) for p in errors],
        "b_received_at": utcnow(),
    }
    dialect = session.get_bind().dialect.name
    new = list(session.scalars(_insert_statement(dialect, status is SubmissionStatus.ACCEPTED), params))
    if new:
        return new[0], True
    # Another worker stored the same delivery meanwhile: use its row.
    return session.scalars(
        select(Submission).where(
            Submission.unit_id == unit.id, Submission.period_id == period_id, Submission.checksum == checksum
        )
    ).one(), False
