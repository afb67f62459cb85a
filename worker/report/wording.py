"""The Vietnamese words of a report that are derived, not supplied: bodies, signers, period labels."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from tongket.models.periods import Period, PeriodType
from tongket.models.tables import ReportKind
from tongket.scheduler.guards import kind_of

MOVEMENT = "phong trào toàn dân bảo vệ an ninh Tổ quốc"
DIRECTIVE = (
    "Chỉ thị số 09-CT/TW ngày 01/12/2011 của Ban Bí thư về tăng cường sự lãnh đạo của Đảng đối với phong trào "
    "toàn dân bảo vệ an ninh Tổ quốc trong tình hình mới"
)
_PREFIXES = ("Thành phố ", "Thị trấn ", "Thị xã ", "Đặc khu ", "Tỉnh ", "Huyện ", "Quận ", "Phường ", "Xã ")
_UNIT_WORDS = (("Xã ", "xã"), ("Phường ", "phường"), ("Thị trấn ", "thị trấn"), ("Đặc khu ", "đặc khu"))
_ROMAN = ("I", "II", "III", "IV")


def place_name(unit_name: str) -> str:
    """'Huyện Đức Trọng' -> 'Đức Trọng'."""
    for prefix in _PREFIXES:
        if unit_name.startswith(prefix):
            return unit_name[len(prefix) :]
    return unit_name


def in_sentence(label: str) -> str:
    """A period's short label mid-sentence: "Quý I/2023" -> "quý I/2023", "2022 - 2023" -> "giai đoạn 2022 - 2023"."""
    return f"giai đoạn {label}" if label[:1].isdigit() else lower_first(label)


def unit_type(unit_name: str) -> str:
    """'Thị trấn Liên Nghĩa' -> 'thị trấn'; '' when the name has no known prefix."""
    for prefix in _PREFIXES:
        if unit_name.startswith(prefix):
            return prefix.strip().lower()
    return ""


def lower_first(name: str) -> str:
    """'Huyện Đức Trọng' -> 'huyện Đức Trọng' mid-sentence, but 'CLB …' stays as it is (an abbreviation)."""
    if len(name) > 1 and name[1].isupper():
        return name
    return name[:1].lower() + name[1:]


def unit_words(names: Sequence[str]) -> str:
    """'xã, thị trấn' for a district of communes and a town: how a report names its units."""
    found = [word for prefix, word in _UNIT_WORDS if any(n.startswith(prefix) for n in names)]
    return ", ".join(found) or "đơn vị"


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


# Words that open a phrase of a summary line: a line may break before them, not inside what they open.
_PHRASE_OPENERS = (
    "Chương trình",
    "Chỉ thị",
    "Kế hoạch",
    "Nghị quyết",
    "giữa",
    "về",
    "của",
    "trong",
    "trên địa bàn",
    "giai đoạn",
    "(",
)


def phrases(text: str) -> list[str]:
    """A summary line cut where it may break: "Tổng kết 10 năm thực hiện" | "Chương trình phối hợp số …"."""
    words = text.split()
    out: list[list[str]] = [[]]
    for n, word in enumerate(words):
        rest = " ".join(words[n : n + 3])
        opens = any(
            rest.startswith(o) and (o == "(" or rest[len(o) : len(o) + 1] in (" ", "")) for o in _PHRASE_OPENERS
        )
        following = words[n + 1] if n + 1 < len(words) else ""
        # "tháng 5 năm 2023", "quý II năm 2023", "năm 2023" open a phrase; "10 năm" does not.
        dated = word in ("tháng", "quý") and following[:1] in "0123456789IV" and following != ""
        year = word == "năm" and following[:4].isdigit() and (n < 2 or words[n - 2] not in ("tháng", "quý"))
        if (opens or dated or year) and out[-1]:
            out.append([])
        out[-1].append(word)
    return [" ".join(p) for p in out if p]


def default_kind(period: Period) -> ReportKind:
    return kind_of(period)
