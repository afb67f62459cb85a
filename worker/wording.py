"""The Vietnamese words of a report that are derived, not supplied: bodies, labels, default prose."""

from __future__ import annotations

from collections.abc import Sequence

from models.periods import Period, PeriodType
from models.tables import IndicatorKind, Level, ReportKind, Unit
from worker.figures import IndicatorInfo, Narrative
from worker.render.text import format_int

MOVEMENT = "phong trào toàn dân bảo vệ an ninh Tổ quốc"
_PREFIXES = ("Thành phố ", "Thị trấn ", "Thị xã ", "Đặc khu ", "Tỉnh ", "Huyện ", "Quận ", "Phường ", "Xã ")
_ROMAN = ("I", "II", "III", "IV")


def place_name(unit_name: str) -> str:
    """'Huyện Đức Trọng' -> 'Đức Trọng'."""
    for prefix in _PREFIXES:
        if unit_name.startswith(prefix):
            return unit_name[len(prefix):]
    return unit_name


def issuing_bodies(scope: Unit) -> tuple[str, str]:
    """(superior body, issuing body) of the police office that reports on a unit."""
    issuing = f"CÔNG AN {scope.name.upper()}"
    parent = scope.parent
    superior = f"CÔNG AN {parent.name.upper()}" if parent is not None else "BỘ CÔNG AN"
    return superior, issuing


def signer_title(level: str) -> str:
    return {Level.PROVINCE: "GIÁM ĐỐC", Level.DISTRICT: "TRƯỞNG CÔNG AN HUYỆN"}.get(level, "TRƯỞNG CÔNG AN XÃ")


def recipients_block(scope: Unit) -> list[str]:
    parent = scope.parent.name if scope.parent is not None else "Bộ Công an"
    return [f"Công an {_lower_first(parent)} (để báo cáo)", f"Ủy ban nhân dân {_lower_first(scope.name)} (để báo cáo)",
            f"Ủy ban MTTQ Việt Nam {_lower_first(scope.name)} (để phối hợp)", "Lưu: VT"]


def period_label(kind: str, period: Period) -> str:
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


def summary_line(kind: str, period: Period) -> str:
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
        PeriodType.MONTH: ReportKind.MONTHLY, PeriodType.QUARTER: ReportKind.QUARTERLY,
        PeriodType.HALF: ReportKind.HALF_YEAR, PeriodType.YEAR: ReportKind.ANNUAL,
        PeriodType.YEARS: ReportKind.MULTI_YEAR,
    }[period.type]


def default_narrative(scope_name: str, label: str, indicators: Sequence[IndicatorInfo],
                      totals: dict[str, int | None]) -> Narrative:
    where = _lower_first(scope_name)
    return Narrative(
        situation=(f"Trong {label}, tình hình an ninh chính trị, trật tự an toàn xã hội trên địa bàn {where} "
                   f"cơ bản ổn định. Công an {where} phối hợp với Ủy ban Mặt trận Tổ quốc Việt Nam cùng cấp "
                   f"triển khai {MOVEMENT} gắn với các cuộc vận động, phong trào thi đua ở khu dân cư."),
        results=_results_sentence(label, where, indicators, totals),
        strengths=("Cấp ủy, chính quyền quan tâm lãnh đạo, chỉ đạo; lực lượng Công an giữ vai trò nòng cốt, "
                   "phối hợp chặt chẽ với Mặt trận và các đoàn thể; các mô hình tự quản được duy trì."),
        weaknesses=("Một số mô hình hoạt động chưa đều; việc báo cáo số liệu của một số đơn vị còn chậm."),
        lessons=("Phát huy vai trò của Nhân dân, gắn phong trào với nhiệm vụ chính trị của địa phương; "
                 "thường xuyên sơ kết, tổng kết, nhân rộng điển hình tiên tiến."),
        tasks=("Tiếp tục tuyên truyền, nâng cao nhận thức của Nhân dân về bảo vệ an ninh, trật tự.",
               "Củng cố, nâng cao chất lượng hoạt động của các tổ chức, mô hình tự quản ở cơ sở.",
               "Phát hiện, biểu dương, khen thưởng kịp thời các tập thể, cá nhân tiêu biểu."),
    )


def _results_sentence(label: str, where: str, indicators: Sequence[IndicatorInfo],
                      totals: dict[str, int | None]) -> str:
    stocks = [f"{i.name}: {format_int(totals[i.code])} {i.measure}" for i in indicators
              if i.kind == IndicatorKind.STOCK and totals.get(i.code) is not None]
    if not stocks:
        return f"Chưa có số liệu được chấp nhận cho {label}."
    return f"Đến cuối {label}, toàn {where} có: " + "; ".join(stocks) + "."


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]
