"""Which figures count for a report: the newest accepted version of each (unit, period) submission, for a
run's own units as received by the time the unit was collected for the run, for the units linked to them
across a reform as stored (their figures are history). Both roll-ups (in Python and in SQL) read this."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.dialects.postgresql import distinct_on

from tongket.models.lineage import Link
from tongket.models.tables import Indicator, RunUnit, Submission, SubmissionStatus, Value


def chosen_submissions(
    run_id: int,
    period_ids: Collection[str],
    links: Sequence[Link],
    units: Sequence[int] | None = None,
    postgresql: bool = False,
) -> Select[Any]:
    """The ids of the chosen submissions for the periods (only of the units given, a batch, when given).
    postgresql: pick the newest with DISTINCT ON, cheaper than numbering the versions."""
    accepted = select(Submission.id, Submission.unit_id, Submission.period_id, Submission.version).where(
        Submission.status == SubmissionStatus.ACCEPTED, Submission.period_id.in_(period_ids)
    )
    as_of = func.coalesce(RunUnit.reported_at, RunUnit.updated_at)
    own = accepted.join(RunUnit, (RunUnit.unit_id == Submission.unit_id) & (RunUnit.run_id == run_id)).where(
        Submission.received_at <= as_of
    )
    linked = {lk.source_id for lk in links if lk.source_id != lk.target_id}
    if units is not None:
        own, linked = own.where(Submission.unit_id.in_(units)), linked & set(units)
    candidates = (own.union_all(accepted.where(Submission.unit_id.in_(linked))) if linked else own).subquery()
    newest = (candidates.c.version.desc(), candidates.c.id.desc())
    if postgresql:  # DISTINCT ON, with the unit and period: what rollup_sql keeps
        return (
            select(candidates.c.id, candidates.c.unit_id, candidates.c.period_id)
            .ext(distinct_on(candidates.c.unit_id, candidates.c.period_id))
            .order_by(candidates.c.unit_id, candidates.c.period_id, *newest)
        )
    number = func.row_number().over(partition_by=(candidates.c.unit_id, candidates.c.period_id), order_by=newest)
    ranked = select(candidates.c.id, number.label("rank")).subquery()
    return select(ranked.c.id).where(ranked.c.rank == 1)


def chosen_values(
    run_id: int, period_ids: Collection[str], links: Sequence[Link], units: Sequence[int] | None = None
) -> Select[int, str, str, int]:
    """(unit id, period id, indicator code, value) of the chosen submissions for the periods."""
    chosen = chosen_submissions(run_id, period_ids, links, units).subquery()
    return (
        select(Submission.unit_id, Submission.period_id, Indicator.code, Value.value)
        .join(chosen, chosen.c.id == Submission.id)
        .join(Value, Value.submission_id == Submission.id)
        .join(Indicator, Indicator.id == Value.indicator_id)
    )
