"""The Vietnamese words of a report that are derived, not supplied: bodies, signers, period labels."""

from __future__ import annotations

from datetime import timedelta

from tongket.models.periods import Period, PeriodType
from tongket.models.tables import Level, ReportKind, Unit

MOVEMENT = "phong trào toàn dân bảo vệ an ninh Tổ quốc"
_PREFIXES = ("Thành phố ", "Thị trấn ", "Thị xã ", "Đặc khu ", "Tỉnh ", "Huyện ", "Quận ", "Phường ", "Xã ")
_ROMAN = ("I", "II", "III", "IV")


def place_name(unit_name: str) -> str:
    """'Huyện Đức Trọng' -> 'Đức Trọng'."""
    for prefix in _PREFIXES:
        if unit_name.startswith(prefix):
            return unit_name[len(prefix) :]
    return unit_name


def issuing_bodies(scope: Unit) -> tuple[str, str]:
    """(superior body, issuing body) of the police office that reports on a unit."""
    issuing = f"CÔNG AN {scope.name.upper()}"
    parent = scope.parent
    superior = f"CÔNG AN {parent.name.upper()}" if parent is not None else "BỘ CÔNG AN"
    return superior, issuing


def signer_title(level: Level) -> str:
    return {Level.PROVINCE: "GIÁM ĐỐC", Level.DISTRICT: "TRƯỞNG CÔNG AN HUYỆN"}.get(level, "TRƯỞNG CÔNG AN XÃ")


def recipients_block(scope: Unit) -> list[str]:
    parent = scope.parent.name if scope.parent is not None else "Bộ Công an"
    return [
        f"Công an {_lower_first(parent)} (để báo cáo)",
        f"Ủy ban nhân dân {_lower_first(scope.name)} (để báo cáo)",
        f"Ủy ban MTTQ Việt Nam {_lower_first(scope.name)} (để phối hợp)",
        "Lưu: VT",
    ]


def period_label(kind: ReportKind, period: Period) -> str:
    year = period.start.year
    match period.type:
        case PeriodType.YEARS:
            return f"giai đoạn {year} - {period.end.year}"
        case PeriodType.YEAR:
            return f"năm {year}"
        case PeriodType.HALF:
            return f"6 tháng {'đầu' if period.start.month == 1 else 'cuối'} năm {year}"
        case PeriodType.QUARTER:
            return f"quý {_ROMAN[(period.start.month - 1) // 3]} năm {year}"
        case _:
            return f"tháng {period.start.month} năm {year}"


def short_label(period: Period) -> str:
    """A period as a table column or chart axis names it: "Tháng 4/2023", "Quý II/2023", "Năm 2022"."""
    year = period.start.year
    match period.type:
        case PeriodType.YEARS:
            return f"{year} - {period.end.year}"
        case PeriodType.YEAR:
            return f"Năm {year}"
        case PeriodType.HALF:
            return f"6 tháng {'đầu' if period.start.month == 1 else 'cuối'} năm {year}"
        case PeriodType.QUARTER:
            return f"Quý {_ROMAN[(period.start.month - 1) // 3]}/{year}"
        case _:
            return f"Tháng {period.start.month}/{year}"


def next_label(kind: ReportKind, period: Period) -> str:
    """The period the tasks are set for: the next month, quarter, half or year; "" after a multi-year review."""
    if period.type is PeriodType.YEARS:
        return ""
    following = Period.containing(period.type, period.end + timedelta(days=1))
    return period_label(kind, following)


def summary_line(kind: ReportKind, period: Period) -> str:
    label = period_label(kind, period)
    match kind:
        case ReportKind.MULTI_YEAR:
            return f"Tổng kết {period.years} năm {MOVEMENT} {label}"
        case ReportKind.ANNUAL:
            return f"Tổng kết {MOVEMENT} {label}"
        case ReportKind.HALF_YEAR:
            return f"Sơ kết {MOVEMENT} {label}"
        case _:
            return f"Kết quả thực hiện {MOVEMENT} {label}"


def default_kind(period: Period) -> ReportKind:
    return {
        PeriodType.MONTH: ReportKind.MONTHLY,
        PeriodType.QUARTER: ReportKind.QUARTERLY,
        PeriodType.HALF: ReportKind.HALF_YEAR,
        PeriodType.YEAR: ReportKind.ANNUAL,
        PeriodType.YEARS: ReportKind.MULTI_YEAR,
    }[period.type]


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]
