"""A workbook's sheets as plain grids of cells, for reading a filled form.

The cells are parsed by openpyxl's own sheet parser, so values, types, dates and formulas are exactly what
`load_workbook` gives; what is left out is building a Workbook around them (its default sheet and styles,
the whole stylesheet, a Cell object per cell, every sheet property). For a form that is about half of the
cost of reading it, paid once per commune reply. Every part is parsed through defusedxml, as openpyxl does.
"""

from __future__ import annotations

import posixpath
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from openpyxl.packaging.manifest import Manifest
from openpyxl.packaging.relationship import get_dependents
from openpyxl.packaging.workbook import WorkbookPackage
from openpyxl.reader.strings import read_string_table
from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format, is_timedelta_format
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import CALENDAR_MAC_1904, WINDOWS_EPOCH
from openpyxl.worksheet._reader import WorkSheetParser
from openpyxl.worksheet.cell_range import CellRange
from openpyxl.xml.constants import (
    ARC_CONTENT_TYPES,
    ARC_STYLE,
    ARC_WORKBOOK,
    SHARED_STRINGS,
    SHEET_MAIN_NS,
    XLSM,
    XLSX,
    XLTM,
    XLTX,
)
from openpyxl.xml.functions import fromstring


@dataclass(frozen=True)
class Cell:
    row: int
    column: int
    value: Any = None
    data_type: str = "n"

    @property
    def coordinate(self) -> str:
        return f"{get_column_letter(self.column)}{self.row}"


@dataclass
class Sheet:
    """The cells of one sheet by (row, column), and its merged ranges; the little of openpyxl's Worksheet
    the form reader uses."""

    title: str
    cells: dict[tuple[int, int], Cell] = field(default_factory=dict)
    merged: list[CellRange] = field(default_factory=list)

    @property
    def max_row(self) -> int:
        return max((r for r, _ in self.cells), default=1)

    @property
    def max_column(self) -> int:
        return max((c for _, c in self.cells), default=1)

    def cell(self, row: int, column: int) -> Cell:
        return self.cells.get((row, column)) or Cell(row, column)

    def iter_rows(self, max_row: int, max_col: int) -> Iterator[tuple[Cell, ...]]:
        for row in range(1, max_row + 1):
            yield tuple(self.cell(row, column) for column in range(1, max_col + 1))


@dataclass
class Book:
    sheets: dict[str, Sheet]

    @property
    def sheetnames(self) -> list[str]:
        return list(self.sheets)

    def __getitem__(self, name: str) -> Sheet:
        return self.sheets[name]


def read_book(archive: zipfile.ZipFile) -> Book:
    """Every worksheet of the workbook in `archive`, in the workbook's order (chart sheets left out)."""
    names = set(archive.namelist())
    package: Any = _from_tree(Manifest, archive.read(ARC_CONTENT_TYPES))
    strings_part = package.find(SHARED_STRINGS)
    strings = read_string_table(archive.open(strings_part.PartName[1:])) if strings_part is not None else []
    part = next((p for kind in (XLTM, XLTX, XLSM, XLSX) if (p := package.find(kind))), None)
    workbook_path = part.PartName[1:] if part else ARC_WORKBOOK
    workbook: Any = _from_tree(WorkbookPackage, archive.read(workbook_path))
    epoch = CALENDAR_MAC_1904 if workbook.properties and workbook.properties.date1904 else WINDOWS_EPOCH
    folder, name = posixpath.split(workbook_path)
    rels = get_dependents(archive, posixpath.join(folder, "_rels", f"{name}.rels")).to_dict()
    styles = _Styles.read(archive) if ARC_STYLE in names else _Styles(1, set(), set())
    sheets: dict[str, Sheet] = {}
    for child in workbook.sheets:
        rel = rels.get(child.id) if child.id else None
        if rel is None or rel.target not in names or "chartsheet" in rel.Type:
            continue
        with archive.open(rel.target) as source:
            parser = WorkSheetParser(source, strings, False, epoch, styles.dates, styles.timedeltas)
            sheets[child.name] = _sheet(child.name, parser, styles)
    return Book(sheets)


def _from_tree(kind: Any, part: bytes) -> Any:
    return kind.from_tree(fromstring(part))


def _sheet(title: str, parser: WorkSheetParser, styles: _Styles) -> Sheet:
    sheet = Sheet(title)
    for _, row in parser.parse():
        for cell in row:
            if cell["style_id"] >= styles.count:
                raise IndexError(f"cell style {cell['style_id']} is not in the stylesheet")
            sheet.cells[(cell["row"], cell["column"])] = Cell(
                cell["row"], cell["column"], cell["value"], cell["data_type"]
            )
    for merge in parser.merged_cells.mergeCell if parser.merged_cells else ():
        cells = CellRange(merge.ref)
        sheet.merged.append(cells)
        for row, column in list(cells.cells)[1:]:  # as openpyxl: only the top-left cell keeps its value
            sheet.cells[(row, column)] = Cell(row, column)
    return sheet


@dataclass(frozen=True)
class _Styles:
    """Only what reading values needs from the stylesheet: which cell formats show dates or durations."""

    count: int
    dates: set[int]
    timedeltas: set[int]

    @classmethod
    def read(cls, archive: zipfile.ZipFile) -> _Styles:
        root = fromstring(archive.read(ARC_STYLE))
        ns = {"m": SHEET_MAIN_NS}
        custom = {int(f.get("numFmtId", "-1")): f.get("formatCode", "") for f in root.findall("m:numFmts/m:numFmt", ns)}
        formats = [int(xf.get("numFmtId", "0")) for xf in root.findall("m:cellXfs/m:xf", ns)]
        codes = [custom.get(i) or BUILTIN_FORMATS.get(i) or "General" for i in formats]
        return cls(
            max(len(codes), 1),
            {i for i, code in enumerate(codes) if is_date_format(code)},
            {i for i, code in enumerate(codes) if is_timedelta_format(code)},
        )
