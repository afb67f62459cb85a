"""The hostile-input suite: every bad delivery, in any format, is stored as rejected with a reason an officer
can act on, and nothing stored before it changes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import district
from tests.test_deliveries import csv_bytes, json_bytes
from tests.test_forms import form_bytes, set_value, with_parts
from tongket.models.tables import Submission, SubmissionStatus, Unit, Value
from tongket.worker.collect.ingest import ingest
from tongket.worker.collect.problems import Problem

U = "24901"  # the commune of tests.factories.district(communes=1)
HEADER = "unit_code,period,indicator,value\n"


def csv_rows(*rows: str) -> bytes:
    return (HEADER + "".join(f"{r}\n" for r in rows)).encode()


def raw_json(values: str) -> bytes:
    """A JSON delivery with its values written by hand (what json.dumps would never produce)."""
    return ('{"unit_code": "' + U + '", "period": "2023", "values": ' + values + "}").encode()


def doc(**fields: object) -> bytes:
    return json.dumps(fields).encode()


# name -> (file name, bytes or a maker taking tmp_path, a fragment of the Vietnamese reason)
CASES: dict[str, tuple[str, Callable[[Path], bytes], str]] = {
    "csv in Windows-1258": (
        "a.csv",
        lambda _: f"{HEADER}{U},2023,security_teams,5 (Liên)\n".encode("cp1258"),
        "không được mã hóa UTF-8",
    ),
    "csv in UTF-16": ("a.csv", lambda _: csv_bytes(U, "2023", {"security_teams": 5}, encoding="utf-16"), "UTF-16"),
    "csv with NUL bytes": ("a.csv", lambda _: csv_rows(f"{U},2023,security_teams,5\x00"), "không phải văn bản CSV"),
    "csv without value column": (
        "a.csv",
        lambda _: f"unit_code,period,indicator\n{U},2023,x\n".encode(),
        "thiếu cột: value",
    ),
    "csv header only": ("a.csv", lambda _: HEADER.encode(), "không có số liệu"),
    "csv mixing communes": (
        "a.csv",
        lambda _: csv_rows(f"{U},2023,security_teams,5", "24902,2023,patrol_teams,1"),
        "khác dòng đầu",
    ),
    "csv unquoted decimal comma": ("a.csv", lambda _: csv_rows(f"{U},2023,security_teams,2,5"), "dòng có 5 cột"),
    "csv for another commune": (
        "a.csv",
        lambda _: csv_bytes("24999", "2023", {"security_teams": 5}),
        "mã đơn vị 24999",
    ),
    "csv with a blank unit code": (
        "a.csv",
        lambda _: csv_bytes("", "2023", {"security_teams": 5}),
        "đang nhận số liệu của đơn vị 24901",
    ),
    "csv with an impossible period": (
        "a.csv",
        lambda _: csv_bytes(U, "2023-13", {"security_teams": 5}),
        "kỳ báo cáo không hợp lệ",
    ),
    "csv unknown indicator": ("a.csv", lambda _: csv_bytes(U, "2023", {"secret_teams": 5}), "không có trong danh mục"),
    "csv duplicate indicator": (
        "a.csv",
        lambda _: csv_rows(f"{U},2023,security_teams,5", f"{U},2023,security_teams,6"),
        "chỉ tiêu bị lặp",
    ),
    "csv markup": (
        "a.csv",
        lambda _: csv_bytes(U, "2023", {"security_teams": "<script>alert(1)</script>"}),
        "ký tự đánh dấu",
    ),
    "csv control character": ("a.csv", lambda _: csv_bytes(U, "2023", {"security_teams": "5\x07"}), "ký tự điều khiển"),
    "csv formula injection": ("a.csv", lambda _: csv_bytes(U, "2023", {"security_teams": "=1+1"}), "không phải số"),
    "csv broken quoting": ("a.csv", lambda _: csv_rows(f'{U},2023,security_teams,"5"x'), "sai cấu trúc"),
    "csv far too many rows": (
        "a.csv",
        lambda _: csv_rows(*(f"{U},2023,c{i},1" for i in range(1500))),
        "quá nhiều dòng",
    ),
    "csv negative count": ("a.csv", lambda _: csv_bytes(U, "2023", {"security_teams": "−4"}), "số âm"),
    "json syntax error": ("a.json", lambda _: b'{"unit_code": "24901", "period": "2023", "values": {', "JSON hợp lệ"),
    "json duplicate key": (
        "a.json",
        lambda _: raw_json('{"security_teams":1,"security_teams":9}'),
        "xuất hiện hai lần",
    ),
    "json NaN": ("a.json", lambda _: raw_json('{"security_teams":NaN}'), "NaN"),
    "json nesting bomb": ("a.json", lambda _: b"[" * 100_000 + b"]" * 100_000, "lồng nhau quá sâu"),
    "json 5000-digit number": ("a.json", lambda _: raw_json('{"security_teams":' + "9" * 5000 + "}"), "số quá dài"),
    "json top-level list": ("a.json", lambda _: b"[1, 2, 3]", "phải là một đối tượng"),
    "json without values": ("a.json", lambda _: doc(unit_code=U, period="2023"), "thiếu khóa: values"),
    "json object as a value": (
        "a.json",
        lambda _: json_bytes(U, "2023", {"security_teams": {"n": 5}}),
        "kiểu dữ liệu không được hỗ trợ",
    ),
    "json true as a value": ("a.json", lambda _: json_bytes(U, "2023", {"security_teams": True}), "đúng/sai"),
    "json fraction": ("a.json", lambda _: json_bytes(U, "2023", {"security_teams": 2.5}), "không phải số nguyên"),
    "json too large a count": ("a.json", lambda _: json_bytes(U, "2023", {"security_teams": 10**9}), "số quá lớn"),
    "json in Latin-1": ("a.json", lambda _: '{"unit_code":"Xã"}'.encode("latin-1"), "không được mã hóa UTF-8"),
    "json list entry without indicator": (
        "a.json",
        lambda _: json_bytes(U, "2023", [{"value": 1}]),
        "mỗi phần tử phải là",
    ),
    "a PDF instead of a form": ("bao-cao.pdf", lambda _: b"%PDF-1.7\n...", "định dạng tệp không được hỗ trợ"),
    "xlsx truncated": ("a.xlsx", lambda p: form_bytes(p, unit_code=U)[:3000], "bị hỏng"),
    "xlsx with a formula": (
        "a.xlsx",
        lambda p: set_value(form_bytes(p, unit_code=U), "patrol_members", "=F8*8"),
        "công thức",
    ),
    "xlsx with an external link": (
        "a.xlsx",
        lambda p: with_parts(
            form_bytes(p, unit_code=U),
            {"xl/externalLinks/externalLink1.xml": b'<?xml version="1.0"?><externalLink xmlns="x"/>'},
        ),
        "liên kết tới tệp khác",
    ),
    "xlsx entity expansion": (
        "a.xlsx",
        lambda p: with_parts(
            form_bytes(p, unit_code=U),
            {"xl/sharedStrings.xml": b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><sst>&a;</sst>'},
        ),
        "DOCTYPE",
    ),
}


@pytest.fixture
def commune(session: Session) -> Unit:
    unit = district(session, communes=1)[1][0]
    assert unit.code == U
    good = ingest(session, unit, csv_bytes(U, "2023", {"security_teams": 7, "patrol_teams": 0}), origin="ok.csv")
    assert good.status == SubmissionStatus.ACCEPTED
    return unit


def snapshot(session: Session) -> list[tuple[object, ...]]:
    rows = session.execute(
        select(
            Submission.id, Submission.status, Submission.version, Submission.checksum, Value.indicator_id, Value.value
        )
        .outerjoin(Value, Value.submission_id == Submission.id)
        .order_by(Submission.id)
    )
    return [tuple(r) for r in rows]


def test_the_suite_is_large_enough() -> None:
    assert len(CASES) >= 25


@pytest.mark.parametrize("name", list(CASES))
def test_bad_delivery_is_rejected_and_nothing_before_changes(
    name: str, session: Session, commune: Unit, tmp_path: Path
) -> None:
    origin, make, fragment = CASES[name]
    before = snapshot(session)
    submission = ingest(session, commune, make(tmp_path), origin=origin, max_bytes=5_000_000)
    assert submission.status == SubmissionStatus.REJECTED
    lines = [Problem(**e).line() for e in submission.errors]
    assert any(fragment in line for line in lines), lines
    assert all(Problem(**e).reason_en for e in submission.errors)  # English too, for the logs
    after = snapshot(session)
    assert after[: len(before)] == before
    assert [row[1] for row in after[len(before) :]] == [SubmissionStatus.REJECTED]  # one row, no values


def test_oversized_delivery_is_rejected_without_parsing(session: Session, commune: Unit) -> None:
    before = snapshot(session)
    big = csv_rows(*(f"{U},2023,security_teams,1" for _ in range(10)))
    submission = ingest(session, commune, big, origin="big.csv", max_bytes=100)
    assert "tệp CSV quá lớn" in Problem(**submission.errors[0]).line()
    assert snapshot(session)[: len(before)] == before
