"""The lean sheet reader gives the form reader exactly the cells openpyxl's full load_workbook gives."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
from openpyxl.worksheet.formula import ArrayFormula

from tests.test_forms import edited, form_bytes
from tongket.worker.collect.xlsx_cells import read_book


def _clumsy(wb: openpyxl.Workbook) -> None:
    """What clerks and their spreadsheets put in a form: formulas, dates, booleans, merges, a copied sheet."""
    ws = wb["Biểu mẫu"]
    ws["F8"] = "=1+2"
    ws["F9"] = datetime(2024, 1, 1, 7, 30)
    ws["F9"].number_format = "dd/mm/yyyy hh:mm"
    ws["F10"] = True
    ws["F11"] = 12.5
    ws["F12"] = ArrayFormula("F12:F13", "=SUM(A1:A2)")
    ws["H20"] = "  chú thích  "
    ws.merge_cells("F14:F15")
    ws.merge_cells("G7:H8")
    copy = wb.copy_worksheet(ws)
    copy["F8"] = 7


def _merged_over_values(data: bytes) -> bytes:
    """A merge over cells that still hold values (a spreadsheet never writes one; a hostile file may):
    only the top-left cell's value counts."""
    out, moved = io.BytesIO(), 0
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            part = src.read(info)
            if info.filename.startswith("xl/worksheets/sheet"):
                moved += part.count(b'<mergeCell ref="F14:F15"')
                part = part.replace(b'<mergeCell ref="F14:F15"', b'<mergeCell ref="F10:F11"')
            dst.writestr(info, part)
    assert moved == 2  # the form sheet and its copy
    return out.getvalue()


def _as_openpyxl(data: bytes) -> dict[str, dict[tuple[int, int], tuple[object, str]]]:
    wb = openpyxl.load_workbook(io.BytesIO(data))
    return {
        ws.title: {
            (c.row, c.column): (_plain(c.value), c.data_type)
            for row in ws.iter_rows(max_row=ws.max_row, max_col=ws.max_column)
            for c in row
            if c.value is not None
        }
        | {(0, 0): ((ws.max_row, ws.max_column, sorted(str(r) for r in ws.merged_cells.ranges)), "")}
        for ws in wb.worksheets
    }


def _as_lean(data: bytes) -> dict[str, dict[tuple[int, int], tuple[object, str]]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        book = read_book(archive)
    return {
        name: {
            (c.row, c.column): (_plain(c.value), c.data_type)
            for row in ws.iter_rows(max_row=ws.max_row, max_col=ws.max_column)
            for c in row
            if c.value is not None
        }
        | {(0, 0): ((ws.max_row, ws.max_column, sorted(str(r) for r in ws.merged)), "")}
        for name, ws in book.sheets.items()
    }


def _plain(value: object) -> object:
    return ("array", value.ref, value.text) if isinstance(value, ArrayFormula) else value


@pytest.mark.parametrize("clumsy", [False, True], ids=["as sent", "as clerks fill it"])
def test_the_lean_reader_sees_what_openpyxl_sees(tmp_path: Path, clumsy: bool) -> None:
    data = form_bytes(tmp_path, {"security_teams": 12})
    if clumsy:
        data = _merged_over_values(edited(data, _clumsy))
    lean, full = _as_lean(data), _as_openpyxl(data)
    assert list(lean) == list(full)  # the same sheets, in the same order
    assert lean == full
    if clumsy:  # the comparison covered every kind of cell the form reader must tell apart
        kinds = {kind for cells in lean.values() for _, kind in cells.values()}
        assert {"f", "d", "b", "n", "s"} <= kinds
