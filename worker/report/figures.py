"""What a report says, as plain values: the hand-over from aggregation to rendering and mail.

Nothing here knows of the database, Celery or ReportLab.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from tongket.models.periods import Period
from tongket.models.tables import IndicatorKind, IndicatorLevel, ReportKind, UnitState


@dataclass(frozen=True)
class IndicatorInfo:
    code: str
    name: str  # Vietnamese, NFC
    measure: str  # measure unit in Vietnamese, e.g. "tổ", "người"
    kind: IndicatorKind
    level: IndicatorLevel = IndicatorLevel.COMMUNE


@dataclass(frozen=True)
class UnitFigures:
    """One expected unit of the run: its collection state and its figures over the whole period
    (stocks at the period's end, flows summed). None means not reported, which is not 0."""

    code: str
    name: str
    state: UnitState
    values: dict[str, int | None]
    problems: tuple[str, ...] = ()  # why it was rejected or failed, one line each, Vietnamese


@dataclass(frozen=True)
class PeriodFigures:
    """Totals over all units for one sub-period (a year of a multi-year review, a month of a quarter…)."""

    period_id: str
    label: str  # e.g. "2014", "Tháng 05/2023"
    totals: dict[str, int | None]


@dataclass(frozen=True)
class Completeness:
    expected: int
    collected: int
    rejected: tuple[str, ...]  # unit names
    missing: tuple[str, ...]
    failed: tuple[str, ...] = ()
    late: tuple[str, ...] = ()  # reported, but after the collection deadline
    on_time: int | None = None  # how many reported by the deadline, where deadlines are tracked


@dataclass(frozen=True)
class Coverage:
    """The units a figure needs and those of them that reported, by name (in code order)."""

    needed: tuple[str, ...] = ()
    reported: tuple[str, ...] = ()
    across_reform: bool = False  # some needed units are not the run's own (predecessors or successors)

    @property
    def missing(self) -> tuple[str, ...]:
        given = set(self.reported)
        return tuple(n for n in self.needed if n not in given)

    @property
    def complete(self) -> bool:
        return not self.missing


@dataclass(frozen=True)
class Narrative:
    """The prose blocks; defaults are generated from the figures, an operator may supply any of them.

    Section II is written by content area (AREAS); the figure sentences of each area are not here but in
    Report.statements, so an operator's text adds to them and never replaces them.
    """

    situation: str
    results: str  # the lead-in of section II
    strengths: str
    weaknesses: str
    lessons: str
    tasks: tuple[str, ...]  # tasks and solutions for the next period, one per item
    commendations: str = ""
    leadership: str = ""
    propaganda: str = ""
    models: str = ""
    crime: str = ""
    festival: str = ""
    causes: str = ""  # of the weaknesses
    proposals: str = ""  # "Kiến nghị, đề xuất"


# The content areas of section II, in order: (narrative field, heading).
AREAS: tuple[tuple[str, str], ...] = (
    ("leadership", "Công tác lãnh đạo, chỉ đạo, hướng dẫn"),
    ("propaganda", "Công tác tuyên truyền, vận động quần chúng"),
    ("models", "Xây dựng, củng cố, nhân rộng mô hình, tổ chức quần chúng tự quản"),
    ("crime", "Phối hợp phòng, chống tội phạm, giữ gìn an ninh, trật tự"),
    ("festival", "Tổ chức “Ngày hội toàn dân bảo vệ an ninh Tổ quốc”"),
    ("commendations", "Công tác khen thưởng"),
)


@dataclass(frozen=True)
class Heading:
    """The Decree 30/2020 heading block and closing parts of the document."""

    superior_body: str  # sentence case, e.g. "Công an tỉnh Lâm Đồng" (the heading prints it in capitals)
    issuing_body: str  # e.g. "Công an huyện Đức Trọng"
    number: str  # e.g. "Số: 125/BC-CAH"
    place: str  # e.g. "Đức Trọng"
    issued_on: date
    title: str  # "BÁO CÁO"
    summary: str  # e.g. "Tổng kết 10 năm thực hiện Chương trình phối hợp số 06/CTr-CA-MT …"
    signer_title: str  # e.g. "TRƯỞNG CÔNG AN HUYỆN"
    signer_name: str  # blank only in a draft
    recipients: tuple[str, ...]  # the "Nơi nhận" lines
    signer_rank: str = ""  # e.g. "Thượng tá", printed before the name

    @property
    def is_draft(self) -> bool:
        """A report nobody is named to sign is a draft, and says so on its first page."""
        return not self.signer_name.strip()


@dataclass(frozen=True)
class Report:
    kind: ReportKind
    period_id: str  # e.g. "2014..2023"
    period_label: str  # e.g. "giai đoạn 2014 - 2023"
    scope_code: str
    scope_name: str  # e.g. "huyện Đức Trọng"
    heading: Heading
    indicators: tuple[IndicatorInfo, ...]  # catalogue order; those valid in the period
    totals: dict[str, int | None]  # over the whole period and all units
    trend: tuple[PeriodFigures, ...]  # one entry per sub-period, in order
    units: tuple[UnitFigures, ...]  # every expected unit, in code order
    completeness: Completeness
    narrative: Narrative
    previous: dict[str, int | None] | None = None  # totals of the previous period, where known
    year_earlier: dict[str, int | None] | None = None  # totals of the same period a year earlier
    notes: tuple[str, ...] = field(default=())  # footnotes (lineage, indicator succession…)
    previous_label: str = ""  # e.g. "Tháng 4/2023": names the comparison column
    year_earlier_label: str = ""  # e.g. "Tháng 5/2022"
    next_label: str = ""  # the period the tasks are for, e.g. "tháng 6 năm 2023"; "" = "thời gian tới"
    statements: dict[str, tuple[str, ...]] = field(default_factory=dict)  # area -> figure sentences
    first_year: PeriodFigures | None = None  # a multi-year review's first year, a column of Bảng 1
    cutoff: date | None = None  # the date the figures are counted to ("Số liệu tính đến ngày …")
    warnings: tuple[str, ...] = ()  # for the operator, not printed (English)
    formed: tuple[tuple[str, str], ...] = ()  # (unit, what it was formed from): many units, so a table
    preliminary: bool = False  # asked for before the period was over: "Số liệu sơ bộ" on every page
    review_draft: bool = False  # a draft for the owners' review: "DỰ THẢO" across every page
    coverage: Coverage | None = None  # the units the figures at the period's end need, and who reported
    partial: frozenset[str] = frozenset()  # codes whose total misses a unit: marked where it is printed
    # comparison ("first_year", "previous", "year_earlier") -> codes whose change is not shown: a side is
    # incomplete, or the indicator's measure changed in between (ban -> tổ)
    uncompared: dict[str, frozenset[str]] = field(default_factory=dict)

    @property
    def covers_festival(self) -> bool:
        """Whether the period takes in 19 August, the day of "Ngày hội toàn dân bảo vệ an ninh Tổ quốc"."""
        period = Period.parse(self.period_id)
        years = range(period.start.year, period.end.year + 1)
        return any(period.start <= date(year, 8, 19) <= period.end for year in years)

    @property
    def has_status_table(self) -> bool:
        """A commune's own report has no reporting-status table ("1/1 thị trấn" says nothing)."""
        return len(self.units) > 1

    @property
    def has_unit_table(self) -> bool:
        """A report on a single unit (a commune's own) has no per-unit table: it would repeat Bảng 1."""
        return len(self.units) > 1

    @property
    def completeness_table(self) -> int:
        """The number of the completeness table: 3 after the per-unit table, else 2."""
        return 3 if self.has_unit_table else 2
