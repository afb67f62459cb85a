"""CSV and JSON deliveries: read into the same form as XLSX, validated alike, stored as versions."""

from __future__ import annotations

import json
import unicodedata

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import district
from tongket.models.tables import Submission, SubmissionStatus, Unit
from tongket.worker.collect.csv_form import read_csv
from tongket.worker.collect.ingest import ingest
from tongket.worker.collect.json_form import read_json
from tongket.worker.collect.problems import Problem


def csv_bytes(unit: str, period: str, values: dict[str, object], sep: str = ",", encoding: str = "utf-8") -> bytes:
    lines = [sep.join(("unit_code", "period", "indicator", "value"))]
    lines += [sep.join((unit, period, code, "" if v is None else str(v))) for code, v in values.items()]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def json_bytes(unit: str, period: str, values: object) -> bytes:
    return json.dumps(
        {"unit_code": unit, "period": period, "catalogue_version": "2024.1", "values": values}, ensure_ascii=False
    ).encode()


@pytest.fixture
def commune(session: Session) -> Unit:
    return district(session, communes=1)[1][0]


def stored_values(session: Session, submission: Submission) -> dict[str, int]:
    from tongket.models.tables import Indicator, Value

    rows = session.execute(
        select(Indicator.code, Value.value)
        .join(Value, Value.indicator_id == Indicator.id)
        .where(Value.submission_id == submission.id)
    )
    return {code: value for code, value in rows}


def test_csv_is_accepted_and_blank_is_not_zero(session: Session, commune: Unit) -> None:
    data = csv_bytes(commune.code, "2023", {"security_teams": 12, "patrol_teams": 0, "tips_to_police": None})
    submission = ingest(session, commune, data, origin="2023.csv")
    assert submission.status == SubmissionStatus.ACCEPTED, submission.errors
    assert stored_values(session, submission) == {"security_teams": 12, "patrol_teams": 0}


def test_csv_with_semicolons_bom_and_vietnamese_headers(session: Session, commune: Unit) -> None:
    data = (f"\ufeffMã đơn vị;Kỳ báo cáo;Mã chỉ tiêu;Số liệu\n{commune.code};2023;security_teams;1.234\n").encode()
    submission = ingest(session, commune, data, origin="bao-cao.csv")
    assert submission.status == SubmissionStatus.ACCEPTED, submission.errors
    assert stored_values(session, submission) == {"security_teams": 1234}


def test_json_object_and_list_forms(session: Session, commune: Unit) -> None:
    first = ingest(
        session, commune, json_bytes(commune.code, "2023", {"security_teams": 3, "patrol_teams": None}), origin="a.json"
    )
    assert stored_values(session, first) == {"security_teams": 3}
    listed = json_bytes(commune.code, "2023", [{"indicator": "security_teams", "value": 4}])
    second = ingest(session, commune, listed, origin="b.json")
    assert (second.status, second.version, stored_values(session, second)) == ("accepted", 2, {"security_teams": 4})


def test_same_content_again_is_a_no_op_and_a_change_is_a_new_version(session: Session, commune: Unit) -> None:
    data = csv_bytes(commune.code, "2023", {"security_teams": 5})
    first = ingest(session, commune, data, origin="x.csv")
    assert ingest(session, commune, data, origin="x-again.csv").id == first.id
    changed = ingest(session, commune, csv_bytes(commune.code, "2023", {"security_teams": 6}), origin="y.csv")
    assert (first.version, changed.version) == (1, 2)
    assert len(session.scalars(select(Submission)).all()) == 2  # the old version is kept beside the new


def test_decomposed_text_is_normalised_not_rejected() -> None:
    header = unicodedata.normalize("NFD", "Mã đơn vị,Kỳ báo cáo,Mã chỉ tiêu,Số liệu")
    raw = read_csv(f"{header}\n24958,2023,security_teams,5\n".encode())
    assert raw.cells == {"security_teams": ("dòng 2, cột value", "5")}


def test_csv_problems_name_the_row_and_field(session: Session, commune: Unit) -> None:
    data = csv_bytes(commune.code, "2023", {"security_teams": -3, "patrol_teams": '"2,5"'})
    submission = ingest(session, commune, data, origin="bad.csv")
    lines = [Problem(**e).line() for e in submission.errors]
    assert submission.status == SubmissionStatus.REJECTED
    assert any("dòng 2, cột value (security_teams): số âm" in line for line in lines), lines
    assert any("dòng 3, cột value (patrol_teams): không phải số nguyên: 2,5" in line for line in lines), lines
    # Unquoted, "7,5" splits into two fields: refused, never read as 7.
    split = ingest(session, commune, csv_bytes(commune.code, "2023", {"tips_to_police": "7,5"}), origin="b.csv")
    assert "dòng 2: dòng có 5 cột nhưng dòng tiêu đề có 4 cột" in Problem(**split.errors[0]).line()


def test_json_reader_keeps_null_apart_from_zero() -> None:
    raw = read_json(json_bytes("24958", "2023", {"a": 0, "b": None}))
    assert raw.cells == {"a": ("trường values.a", 0), "b": ("trường values.b", None)}


def test_a_value_far_outside_the_history_is_accepted_with_a_warning(session: Session, commune: Unit) -> None:
    for year, teams in (("2020", 10), ("2021", 12), ("2022", 11)):
        ingest(session, commune, csv_bytes(commune.code, year, {"security_teams": teams}), origin=f"{year}.csv")
    normal = ingest(session, commune, csv_bytes(commune.code, "2023", {"security_teams": 14}), origin="a.csv")
    assert (normal.status, normal.errors) == (SubmissionStatus.ACCEPTED, [])
    odd = ingest(session, commune, csv_bytes(commune.code, "2023", {"security_teams": 140}), origin="b.csv")
    assert odd.status == SubmissionStatus.ACCEPTED and stored_values(session, odd) == {"security_teams": 140}
    (warning,) = [Problem(**e) for e in odd.errors]
    assert warning.severity == "warning" and warning.indicator == "security_teams"
    assert "cảnh báo: 140 khác xa các kỳ trước (từ 10 đến 12)" in warning.line()


@pytest.mark.integration
def test_two_workers_storing_the_same_delivery_make_one_row(pg_url: str) -> None:
    import threading

    from tongket.models.db import session_scope

    with session_scope(pg_url) as setup:
        code = district(setup, communes=1)[1][0].code
    data = csv_bytes(code, "2023", {"security_teams": 5})
    results: list[int] = []

    def second_worker() -> None:
        with session_scope(pg_url) as other:
            unit = other.scalars(select(Unit).where(Unit.code == code)).one()
            results.append(ingest(other, unit, data, origin="again.csv").id)  # waits on the first one's row

    with session_scope(pg_url) as first:
        unit = first.scalars(select(Unit).where(Unit.code == code)).one()
        mine = ingest(first, unit, data, origin="a.csv").id
        thread = threading.Thread(target=second_worker)
        thread.start()
        assert _someone_waits_on_a_lock(pg_url)  # the second insert waits for the uncommitted row
    thread.join(timeout=30)
    assert results == [mine]
    with session_scope(pg_url) as check:
        assert len(check.scalars(select(Submission)).all()) == 1


def test_the_csv_template_filled_in_is_accepted(session: Session, commune: Unit) -> None:
    from tongket.models.periods import Period
    from tongket.worker.collect.csv_form import template_csv
    from tongket.worker.report.indicators import active_indicators

    blank = template_csv(commune.code, "2023-05", active_indicators(session, Period.parse("2023-05"))).decode()
    assert "Tổ an ninh nhân dân" in blank
    filled = blank.replace(f"{commune.code},2023-05,security_teams,,", f"{commune.code},2023-05,security_teams,8,")
    submission = ingest(session, commune, filled.encode(), origin="2023-05.csv")
    assert submission.status == SubmissionStatus.ACCEPTED, submission.errors
    assert stored_values(session, submission) == {"security_teams": 8}  # the blanks stay "not reported"


def _someone_waits_on_a_lock(pg_url: str, timeout: float = 20) -> bool:
    import time

    from sqlalchemy import text

    from tongket.models.db import engine_for

    deadline = time.monotonic() + timeout
    with engine_for(pg_url).connect() as connection:
        while time.monotonic() < deadline:
            waiting = connection.execute(
                text(
                    "select count(*) from pg_stat_activity where wait_event_type = 'Lock' "
                    "and datname = current_database()"
                )
            ).scalar()
            connection.rollback()  # statistics views are a snapshot per transaction: look afresh each time
            if waiting:
                return True
            time.sleep(0.05)  # polling, bounded by the deadline
    return False
