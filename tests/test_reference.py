"""The succession graph and the indicator catalogue kept in memory per process: reused while the database's
reference token stands, loaded again as soon as a `units import` (here, or in another process) or a
catalogue load changes them."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from tests.processes import environment, tongket
from tongket.models import reference
from tongket.models.catalogue import catalogue, load_catalogue
from tongket.models.db import session_scope
from tongket.models.lineage import lineage
from tongket.models.periods import Period
from tongket.models.tables import Indicator, Unit, UnitSuccession
from tongket.models.units import expected_units, unit_by_code
from tongket.models.vn_units import import_vn_units
from tongket.worker.report.indicators import active_indicators

REVIEW = Period.parse("2016..2025")


def duc_trong_sources(session: Session) -> set[str]:
    """The codes whose figures count for today's xã Đức Trọng in a ten-year review of Lâm Đồng."""
    scope = unit_by_code(session, "68", on=REVIEW.end)
    targets = expected_units(session, scope.id, REVIEW)
    target = next(t for t in targets if t.code == "24958")
    ids = {lk.source_id for lk in lineage(session, targets, REVIEW).links if lk.target_id == target.id}
    return {f"{u.code}:{u.name}" for u in session.scalars(select(Unit).where(Unit.id.in_(ids)))}


def forget_phu_hoi(db_url: str) -> None:
    """A database imported by an older package, without xã Phú Hội -> xã Đức Trọng."""
    with session_scope(db_url) as session:
        phu_hoi = unit_by_code(session, "24982", on=REVIEW.start)
        session.execute(delete(UnitSuccession).where(UnitSuccession.old_unit_id == phu_hoi.id))


def test_a_units_import_in_another_process_reaches_the_graph_this_one_keeps(db_url: str, tmp_path: Path) -> None:
    with session_scope(db_url) as session:
        import_vn_units(session)
    forget_phu_hoi(db_url)
    with session_scope(db_url) as session:
        before = duc_trong_sources(session)
    assert "24982:Xã Phú Hội" not in before
    with session_scope(db_url) as session:
        assert duc_trong_sources(session) == before  # kept: the same graph serves the next report

    done = tongket("units", "import", "vn", env=environment(tmp_path, database_url=db_url))
    assert done.returncode == 0, done.stderr
    assert "successions added: 1." in done.stdout

    with session_scope(db_url) as session:
        assert duc_trong_sources(session) == before | {"24982:Xã Phú Hội"}


def test_a_units_import_in_this_process_replaces_the_graph_it_kept(db_url: str) -> None:
    with session_scope(db_url) as session:
        import_vn_units(session)
    forget_phu_hoi(db_url)
    with session_scope(db_url) as session:
        assert "24982:Xã Phú Hội" not in duc_trong_sources(session)
        assert import_vn_units(session).successions_added == 1
        assert "24982:Xã Phú Hội" in duc_trong_sources(session)  # the same transaction sees its own import


def test_an_import_that_changes_nothing_keeps_the_token(session: Session) -> None:
    import_vn_units(session)
    first = reference.token(session)
    assert import_vn_units(session).units_added == 0
    assert reference.token(session) == first
    assert first is not None


def test_the_catalogue_is_read_once_until_it_changes(db_url: str) -> None:
    with session_scope(db_url) as session:
        load_catalogue(session)
    with session_scope(db_url) as session:
        kept = catalogue(session)
    with session_scope(db_url) as session:
        assert catalogue(session) is kept  # no second read while the token stands
        row = session.scalars(select(Indicator).where(Indicator.code == kept[0].code)).one()
        row.name = "Chỉ tiêu đã đổi tên"
    with session_scope(db_url) as session:
        assert active_indicators(session, REVIEW)[0].name == "Chỉ tiêu đã đổi tên"
        load_catalogue(session)  # the data file again: the name goes back
        assert active_indicators(session, REVIEW)[0].name == kept[0].name


def test_a_database_without_the_token_is_read_every_time(db_url: str) -> None:
    with session_scope(db_url) as session:
        load_catalogue(session)
        session.execute(text("DELETE FROM reference_version"))
    with session_scope(db_url) as session:
        first = catalogue(session)
        assert catalogue(session) is not first
        assert catalogue(session) == first
