"""A drop folder that forgives office habits: junk files beside a good form are not deliveries, a file still
being copied is not judged until it has stopped changing, old spreadsheet formats are rejected with what to
do instead of being silently ignored."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import REPORT_DATE, district, drop_form
from tongket.models.periods import Period
from tongket.models.tables import RunUnit, Submission, UnitState
from tongket.scheduler.plan import plan_run
from tongket.worker import states
from tongket.worker.collect.step import collect_once
from tongket.worker.settings import Settings


def started(session: Session, tmp_path: Path, **values: object) -> tuple[Settings, int, int, Path]:
    settings = Settings(data_dir=tmp_path / "data", database_url="sqlite://", **values)  # type: ignore[arg-type]
    scope, (commune,) = district(session, communes=1)
    run = plan_run(session, scope=scope, kind="annual", period=Period.parse("2023"), report_date=REPORT_DATE)
    states.start_run(session, run.id, collect_minutes=60)
    return settings, run.id, commune.id, settings.dropbox_dir / commune.code


def test_office_junk_beside_a_good_form_is_not_a_delivery(session: Session, tmp_path: Path) -> None:
    settings, run_id, unit_id, folder = started(session, tmp_path)
    commune = session.get_one(RunUnit, (run_id, unit_id)).unit
    drop_form(session, settings.dropbox_dir, commune, "2023", {"security_teams": 7})
    (folder / "~$2023.xlsx").write_bytes(b"\x0cNguyen Van A" + b"\0" * 150)  # Excel's owner file
    (folder / "._2023.xlsx").write_bytes(b"\x00\x05\x16\x07" + b"\0" * 80)  # macOS resource fork
    (folder / ".DS_Store.json").write_bytes(b"junk")
    (folder / "2024.xlsx").write_bytes(b"")  # an empty file
    (folder / "2023.xlsx.part").write_bytes(b"PK\x03\x04")
    assert collect_once(session, run_id, unit_id, settings) is None
    row = session.get_one(RunUnit, (run_id, unit_id))
    assert row.state is UnitState.COLLECTED and row.errors == []
    assert [s.origin for s in session.scalars(select(Submission))] == ["2023.xlsx"]


def test_a_file_still_being_copied_is_read_once_it_has_stopped_changing(session: Session, tmp_path: Path) -> None:
    settings, run_id, unit_id, folder = started(session, tmp_path, drop_settle_seconds=0.5)
    commune = session.get_one(RunUnit, (run_id, unit_id)).unit
    path = drop_form(session, settings.dropbox_dir, commune, "2023", {"security_teams": 7})
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) * 2 // 5])  # 40% copied when the run looks
    assert collect_once(session, run_id, unit_id, settings) is not None  # not judged: tried again later
    assert session.get_one(RunUnit, (run_id, unit_id)).state is UnitState.PENDING
    assert "still being written" in (session.get_one(RunUnit, (run_id, unit_id)).last_error or "")
    path.write_bytes(whole)  # the copy ends
    time.sleep(0.6)
    assert collect_once(session, run_id, unit_id, settings) is None
    assert session.get_one(RunUnit, (run_id, unit_id)).state is UnitState.COLLECTED


def test_old_spreadsheet_formats_are_rejected_with_what_to_do(session: Session, tmp_path: Path) -> None:
    settings, run_id, unit_id, folder = started(session, tmp_path)
    folder.mkdir(parents=True)
    (folder / "2023.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 500)
    (folder / "2023.ods").write_bytes(b"PK\x03\x04" + b"\0" * 100)
    assert collect_once(session, run_id, unit_id, settings) is None
    row = session.get_one(RunUnit, (run_id, unit_id))
    assert row.state is UnitState.REJECTED
    assert row.errors and all("Excel Workbook (.xlsx)" in line for line in row.errors), row.errors
    stored = session.scalars(select(Submission).order_by(Submission.origin)).all()
    assert [(s.origin, s.status) for s in stored] == [("2023.ods", "rejected"), ("2023.xls", "rejected")]


def test_a_csv_whose_period_excel_turned_into_a_date_is_rejected_with_the_reason(
    session: Session, tmp_path: Path
) -> None:
    settings, run_id, unit_id, folder = started(session, tmp_path)
    code = session.get_one(RunUnit, (run_id, unit_id)).unit.code
    folder.mkdir(parents=True)
    (folder / "2023.csv").write_text(f"unit_code,period,indicator,value\n{code},01/01/2024,security_teams,4\n")
    assert collect_once(session, run_id, unit_id, settings) is None
    row = session.get_one(RunUnit, (run_id, unit_id))
    assert row.state is UnitState.REJECTED, row.last_error
    assert "01/01/2024" in row.errors[0] and "Văn bản (Text)" in row.errors[0]


def _edited(path: Path, change: object) -> None:
    import openpyxl

    book = openpyxl.load_workbook(path)
    change(book)  # type: ignore[operator]
    book.save(path)


def _row_of(sheet: object, code: str) -> int:
    return next(r[0].row for r in sheet.iter_rows() if r[1].value == code)  # type: ignore[attr-defined]


def test_merged_value_cells_are_rejected_naming_the_cells(session: Session, tmp_path: Path) -> None:
    settings, run_id, unit_id, folder = started(session, tmp_path)
    commune = session.get_one(RunUnit, (run_id, unit_id)).unit
    path = drop_form(session, settings.dropbox_dir, commune, "2023", {"security_teams": 7})

    def merge(book: object) -> None:
        sheet = book["Biểu mẫu"]  # type: ignore[index]
        row = _row_of(sheet, "security_teams")
        sheet.merge_cells(f"F{row}:F{row + 1}")

    _edited(path, merge)
    assert collect_once(session, run_id, unit_id, settings) is None
    row = session.get_one(RunUnit, (run_id, unit_id))
    assert row.state is UnitState.REJECTED and "bị gộp (Merge Cells): F7:F8" in row.errors[0], row.errors


def test_a_filled_copy_of_the_form_sheet_is_read_and_two_filled_tables_are_refused(
    session: Session, tmp_path: Path
) -> None:
    settings, run_id, unit_id, folder = started(session, tmp_path)
    commune = session.get_one(RunUnit, (run_id, unit_id)).unit
    path = drop_form(session, settings.dropbox_dir, commune, "2023", {})

    def fill_a_copy(book: object) -> None:
        book.security = None  # type: ignore[attr-defined]  # the clerk unprotects the structure to copy
        copy = book.copy_worksheet(book["Biểu mẫu"])  # type: ignore[attr-defined,index]
        copy.title = "Biểu mẫu (2)"
        copy.cell(row=_row_of(copy, "security_teams"), column=6).value = 9

    _edited(path, fill_a_copy)
    assert collect_once(session, run_id, unit_id, settings) is None
    assert session.get_one(RunUnit, (run_id, unit_id)).state is UnitState.COLLECTED
    (accepted,) = session.scalars(select(Submission)).all()
    assert [v.value for v in accepted.values] == [9]

    def fill_the_original_too(book: object) -> None:
        sheet = book["Biểu mẫu"]  # type: ignore[index]
        sheet.cell(row=_row_of(sheet, "security_teams"), column=6).value = 8

    _edited(path, fill_the_original_too)
    from tongket.worker.collect.formats import read_delivery
    from tongket.worker.collect.problems import FormRejected

    try:
        read_delivery(path.read_bytes(), origin=path.name)
    except FormRejected as rejected:
        assert '"Biểu mẫu", "Biểu mẫu (2)"' in rejected.problems[0].reason_vi
    else:
        raise AssertionError("two filled tables were accepted")
