"""The default prose of a report, written from its figures: what an officer would draft before editing.

Every sentence states something the figures show (totals, changes, who did not report); the rest is the
customary wording of these reports. An operator may replace any block per run or per schedule.
"""

from __future__ import annotations

from collections.abc import Sequence

from tongket.models.tables import IndicatorKind, IndicatorLevel, ReportKind
from tongket.worker.report.figures import IndicatorInfo, Narrative, Report
from tongket.worker.report.numbers import change_percent, format_int, format_percent

MOVEMENT = "phong trào toàn dân bảo vệ an ninh Tổ quốc"
COMMENDED = ("collectives_commended", "individuals_commended")
_SHORT_KINDS = (ReportKind.MONTHLY, ReportKind.QUARTERLY)
_UNIT_WORDS = (("Xã ", "xã"), ("Phường ", "phường"), ("Thị trấn ", "thị trấn"), ("Đặc khu ", "đặc khu"))
MAX_CHANGES = 4  # changes named in one sentence; more would read as a table


def default_narrative(report: Report) -> Narrative:
    where = lower_first(report.scope_name)
    return Narrative(
        situation=_situation(report, where),
        results=_results(report, where),
        strengths=_strengths(report),
        weaknesses=_weaknesses(report),
        lessons="" if report.kind in _SHORT_KINDS else _LESSONS,
        tasks=_tasks(report),
        commendations=_commendations(report),
    )


def lower_first(name: str) -> str:
    """'Huyện Đức Trọng' -> 'huyện Đức Trọng', but 'CLB …' stays as it is (an abbreviation)."""
    if len(name) > 1 and name[1].isupper():
        return name
    return name[:1].lower() + name[1:]


def unit_words(names: Sequence[str]) -> str:
    """'xã, thị trấn' for a district of communes and a town: how a report names its units."""
    found = [word for prefix, word in _UNIT_WORDS if any(n.startswith(prefix) for n in names)]
    return ", ".join(found) or "đơn vị"


def _situation(report: Report, where: str) -> str:
    return (
        f"Trong {report.period_label}, tình hình an ninh chính trị, trật tự an toàn xã hội trên địa bàn {where} "
        f"cơ bản ổn định. Công an {where} phối hợp với Ủy ban Mặt trận Tổ quốc Việt Nam cùng cấp và các ban, "
        f"ngành, đoàn thể triển khai {MOVEMENT} gắn với các cuộc vận động, phong trào thi đua ở khu dân cư.\n"
        + _coverage(report)
    )


def _coverage(report: Report) -> str:
    c = report.completeness
    words = unit_words([u.name for u in report.units])
    if c.expected == 0:
        return f"Kỳ này không có {words} nào thuộc diện phải báo cáo."
    rate = format_percent(c.collected * 100.0 / c.expected)
    text = (
        f"Báo cáo được tổng hợp từ số liệu của {format_int(c.collected)}/{format_int(c.expected)} {words} (đạt {rate})"
    )
    absent = _absent(report)
    if absent:
        text += f"; {format_int(absent)} đơn vị chưa có số liệu hợp lệ, có tên tại Bảng {report.completeness_table}"
    return text + "."


def _results(report: Report, where: str) -> str:
    stocks = _listed(report, IndicatorKind.STOCK)
    flows = _listed(report, IndicatorKind.FLOW)
    if not stocks and not flows:
        return f"Chưa có số liệu hợp lệ cho {report.period_label}; các bảng dưới đây ghi dấu “—” ở ô chưa có số liệu."
    lines = []
    if stocks:
        lines.append(f"Đến cuối {report.period_label}, toàn {where} có " + ", ".join(stocks) + ".")
    if flows:
        lines.append(f"Trong {report.period_label}, " + "; ".join(flows) + ".")
    compared = _comparison_lines(report)
    lines += compared
    if compared and _absent(report):
        lines.append(
            f"Do còn {format_int(_absent(report))} đơn vị chưa có số liệu hợp lệ, tổng số kỳ này và mức "
            "tăng, giảm so với các kỳ trước chỉ tính trên số liệu đã có."
        )
    lines.append("Kết quả cụ thể như sau.")
    return "\n".join(lines)


def _listed(report: Report, kind: str) -> list[str]:
    out = []
    for ind in _commune_indicators(report):
        value = report.totals.get(ind.code)
        if ind.kind != kind or value is None or ind.code in COMMENDED:
            continue
        if kind == IndicatorKind.STOCK:
            out.append(f"{format_int(value)} {lower_first(ind.name)}")
        else:
            out.append(f"số {lower_first(ind.name)} là {format_int(value)}")
    return out


def _comparison_lines(report: Report) -> list[str]:
    lines = []
    pairs = [(report.previous_label, report.previous), (report.year_earlier_label, report.year_earlier)]
    if report.kind == ReportKind.MULTI_YEAR and len(report.trend) > 1:
        # A review of several years measures the way travelled since the first of them.
        first = report.trend[0]
        pairs.append((f"năm đầu giai đoạn ({first.label})", first.totals))
    for label, before in pairs:
        changes = _changes(report, before)
        if before is None or not label:
            continue
        if changes is None:
            lines.append(f"Chưa có số liệu {lower_first(label)} để so sánh.")
        elif not changes:
            lines.append(f"So với {lower_first(label)}, số lượng các tổ chức, mô hình không thay đổi.")
        else:
            lines.append(f"So với {lower_first(label)}: " + "; ".join(changes[:MAX_CHANGES]) + ".")
    return lines


def _changes(report: Report, before: dict[str, int | None] | None, falls: bool = False) -> list[str] | None:
    """How the stock totals moved against an earlier period, largest relative change first (only the falls
    when asked); None when nothing can be compared."""
    if before is None:
        return None
    moved: list[tuple[float, str]] = []
    known = False
    for ind in _commune_indicators(report):
        now, old = report.totals.get(ind.code), before.get(ind.code)
        if ind.kind != IndicatorKind.STOCK or now is None or old is None:
            continue
        known = True
        if now != old and (not falls or now < old):
            moved.append((abs(change_percent(now, old) or 100.0), _change(ind, now, old)))
    if not known:
        return None
    return [text for _, text in sorted(moved, key=lambda m: -m[0])]


def _change(ind: IndicatorInfo, now: int, old: int) -> str:
    verb = "tăng" if now > old else "giảm"
    pct = change_percent(now, old)
    share = f" ({format_percent(abs(pct))})" if pct is not None else ""
    return f"{lower_first(ind.name)} {verb} {format_int(abs(now - old))} {ind.measure}{share}"


def _strengths(report: Report) -> str:
    text = (
        "Cấp ủy, chính quyền quan tâm lãnh đạo, chỉ đạo; lực lượng Công an giữ vai trò nòng cốt, phối hợp "
        "chặt chẽ với Mặt trận và các đoàn thể; các tổ chức quần chúng tự quản về an ninh, trật tự ở cơ sở "
        "được duy trì."
    )
    c = report.completeness
    if c.expected and c.collected == c.expected:
        text += f" 100% {unit_words([u.name for u in report.units])} gửi báo cáo số liệu hợp lệ."
    return text


def _weaknesses(report: Report) -> str:
    parts = []
    c = report.completeness
    if c.missing or c.failed:
        parts.append(
            f"còn {format_int(len(c.missing) + len(c.failed))} đơn vị chưa gửi báo cáo ({_names(c.missing + c.failed)})"
        )
    if c.rejected:
        parts.append(
            f"{'có ' if not parts else ''}{format_int(len(c.rejected))} đơn vị gửi số liệu không hợp lệ, "
            "phải rà soát lại "
            f"({_names(c.rejected)})"
        )
    # A fall is only a weakness when every unit reported; otherwise it is the missing figures talking.
    falls = None if _absent(report) else _changes(report, report.previous, falls=True)
    if falls:
        parts.append(
            f"một số chỉ tiêu giảm so với {lower_first(report.previous_label)}: " + "; ".join(falls[:MAX_CHANGES])
        )
    if not parts:
        return "Hoạt động của một số tổ, câu lạc bộ ở cơ sở chưa đều; việc nhân rộng mô hình còn chậm."
    return "; ".join(parts)[:1].upper() + "; ".join(parts)[1:] + "."


def _absent(report: Report) -> int:
    c = report.completeness
    return len(c.missing) + len(c.rejected) + len(c.failed)


def _names(names: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" và {format_int(len(names) - limit)} đơn vị khác" if len(names) > limit else "")


_LESSONS = (
    "Phải đặt phong trào dưới sự lãnh đạo của cấp ủy, sự điều hành của chính quyền; lực lượng Công an "
    "giữ vai trò nòng cốt, Mặt trận làm tốt công tác vận động; lấy khu dân cư làm địa bàn, lấy Nhân dân "
    "làm chủ thể; thường xuyên kiểm tra, sơ kết, khen thưởng kịp thời."
)


def _tasks(report: Report) -> tuple[str, ...]:
    when = f"trong {report.next_label}" if report.next_label else "trong thời gian tới"
    tasks = [
        f"Tiếp tục tuyên truyền, vận động Nhân dân tham gia {MOVEMENT} {when}.",
        "Củng cố, nâng cao chất lượng hoạt động của các tổ an ninh nhân dân, tổ tuần tra nghĩa vụ, tổ hòa giải "
        "và các mô hình tự quản ở cơ sở.",
    ]
    c = report.completeness
    late = len(c.missing) + len(c.failed) + len(c.rejected)
    if late:
        tasks.append(
            f"Đôn đốc {format_int(late)} đơn vị chưa có số liệu hợp lệ kỳ này báo cáo đầy đủ, "
            "đúng hạn; rà soát, bổ sung số liệu còn thiếu."
        )
    tasks.append("Phát hiện, biểu dương, khen thưởng kịp thời các tập thể, cá nhân tiêu biểu.")
    return tuple(tasks)


def _commendations(report: Report) -> str:
    counts = {code: report.totals.get(code) for code in COMMENDED}
    by_code = {i.code: i for i in report.indicators}
    given = [f"{format_int(v)} {by_code[c].measure}" for c, v in counts.items() if v and c in by_code]
    if not given:
        return ""
    return (
        f"Trong {report.period_label}, các cấp đã khen thưởng "
        + " và ".join(given)
        + f" có thành tích xuất sắc trong {MOVEMENT}."
    )


def _commune_indicators(report: Report) -> list[IndicatorInfo]:
    return [i for i in report.indicators if i.level == IndicatorLevel.COMMUNE]
