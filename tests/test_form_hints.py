"""Last period's stocks inside the commune form: a hint column beside "Số liệu" ("Kỳ trước: 1.234"), for
stock indicators only, never a value the clerk must overwrite; the reader ignores it, also after the form
has been saved again by LibreOffice Calc."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest

from tests.conftest import unavailable
from tests.test_forms import INDICATORS, PERIOD, UNIT, UNIT_NAME, edited, form_bytes, value_cell
from tongket.worker.collect.validate import validate_form
from tongket.worker.collect.xlsx_form import read_form, write_form

HINTS = {"security_teams": 1234, "patrol_members": 0, "propaganda_sessions": 9}  # the last is a flow
SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


def hinted(tmp_path: Path) -> bytes:
    path = tmp_path / "hinted.xlsx"
    write_form(
        path,
        unit_code=UNIT,
        unit_name=UNIT_NAME,
        period_id=PERIOD,
        catalogue_version="2024.1",
        indicators=INDICATORS,
        hints=HINTS,
    )
    return path.read_bytes()


def column_g(data: bytes) -> dict[str, object]:
    ws = openpyxl.load_workbook(io.BytesIO(data))["Biểu mẫu"]
    return {str(row[1].value): row[6].value for row in ws.iter_rows(min_row=6) if len(row) > 6}


def filled(data: bytes) -> bytes:
    def fill(wb: openpyxl.Workbook) -> None:
        value_cell(wb, "security_teams").value = 1240
        value_cell(wb, "propaganda_sessions").value = 3

    return edited(data, fill)


def figures(data: bytes) -> dict[str, int]:
    got = validate_form(read_form(data), expected_unit=UNIT, expected_period=PERIOD, indicators=INDICATORS)
    return {code: value for code, value in got.items() if value is not None}


def test_stocks_of_the_last_period_are_a_hint_beside_the_value_never_a_value(tmp_path: Path) -> None:
    data = hinted(tmp_path)
    hints = column_g(data)
    assert hints["Mã chỉ tiêu"] == "Tham khảo"
    assert hints["security_teams"] == "Kỳ trước: 1.234" and hints["patrol_members"] == "Kỳ trước: 0"
    assert hints["propaganda_sessions"] is None  # a flow: last period's count is no guide
    ws = openpyxl.load_workbook(io.BytesIO(data))["Biểu mẫu"]
    assert ws.protection.sheet and ws["G7"].protection.locked  # the clerk cannot type into the hints
    assert figures(data) == {}  # nothing is filled in for the clerk
    assert figures(filled(data)) == {"security_teams": 1240, "propaganda_sessions": 3}


def test_without_hints_the_form_is_as_before(tmp_path: Path) -> None:
    assert hinted(tmp_path) != form_bytes(tmp_path)
    assert all(value is None for value in column_g(form_bytes(tmp_path)).values())
    empty = tmp_path / "empty.xlsx"
    write_form(
        empty, unit_code=UNIT, unit_name=UNIT_NAME, period_id=PERIOD, catalogue_version="2024.1",
        indicators=INDICATORS, hints={},
    )  # fmt: skip
    assert empty.read_bytes() == form_bytes(tmp_path)


@pytest.mark.slow
def test_the_hinted_form_saved_again_by_libreoffice_still_reads(tmp_path: Path) -> None:
    if SOFFICE is None:
        unavailable("LibreOffice Calc is not installed (Debian package libreoffice-calc; .ci/run installs it)")
    source = tmp_path / "in" / "form.xlsx"
    source.parent.mkdir()
    source.write_bytes(filled(hinted(tmp_path)))
    out = tmp_path / "out"
    done = subprocess.run(
        [SOFFICE, "--headless", "--norestore", f"-env:UserInstallation=file://{tmp_path}/lo-profile",
         "--convert-to", "xlsx", "--outdir", str(out), str(source)],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    saved = out / "form.xlsx"
    assert done.returncode == 0 and saved.exists(), done.stderr
    data = saved.read_bytes()
    assert data != source.read_bytes()  # LibreOffice wrote its own file
    assert column_g(data)["security_teams"] == "Kỳ trước: 1.234"
    assert figures(data) == {"security_teams": 1240, "propaganda_sessions": 3}
