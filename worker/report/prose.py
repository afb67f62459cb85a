"""The default prose of a report, written from its figures: what an officer would draft before editing.

Every sentence states something the figures show (who did not report, what fell) or is the customary wording
of these reports. An operator may replace any block per run or per schedule; the figure sentences of
section II (statements.py) are kept whatever the operator writes.
"""

from __future__ import annotations

from tongket.models.tables import ReportKind
from tongket.worker.report.figures import Narrative, Report
from tongket.worker.report.numbers import format_int
from tongket.worker.report.statements import MAX_CHANGES, absent, any_figures, changes, names
from tongket.worker.report.wording import DIRECTIVE, MOVEMENT, in_sentence, lower_first, unit_words

_SHORT_KINDS = (ReportKind.MONTHLY, ReportKind.QUARTERLY)


def default_narrative(report: Report) -> Narrative:
    where = lower_first(report.scope_name)
    if not any_figures(report):
        return _without_figures(report, where)
    return Narrative(
        situation=_situation(report, where),
        results="",
        leadership=_leadership(report, where),
        festival=_festival(report),
        strengths=_strengths(report),
        weaknesses=_weaknesses(report),
        causes=_causes(report),
        lessons="" if report.kind in _SHORT_KINDS else _LESSONS,
        tasks=_tasks(report),
        proposals=_proposals(report),
    )


def _without_figures(report: Report, where: str) -> Narrative:
    """With no figure at all, the report asserts nothing about the situation or the movement's results:
    it says what is missing and what to do about it."""
    units = _units(report)
    whose = f"các {units}" if len(report.units) > 1 else "đơn vị"
    situation = (
        f"Trong {report.period_label}, chưa có số liệu báo cáo của {whose} nên chưa có căn cứ để đánh giá "
        f"tình hình an ninh chính trị, trật tự an toàn xã hội và kết quả thực hiện phong trào trên địa bàn {where}."
    )
    if report.completeness.expected == 0:
        situation += f" Kỳ này không có {units} nào thuộc diện phải báo cáo."
    return Narrative(
        situation=situation,
        results="",
        strengths="Chưa đánh giá được do chưa có số liệu báo cáo.",
        weaknesses=_weaknesses(report) if _own_absent(report) else f"Chưa có số liệu báo cáo của {whose}.",
        lessons="" if report.kind in _SHORT_KINDS else "Chưa rút ra được do chưa có số liệu báo cáo.",
        tasks=_tasks(report),
        proposals=_proposals(report),
    )


def _own_absent(report: Report) -> bool:
    c = report.completeness
    return bool(c.missing or c.failed or c.rejected)


def _units(report: Report) -> str:
    return unit_words([u.name for u in report.units]) if len(report.units) > 1 else "cơ sở"


def _situation(report: Report, where: str) -> str:
    text = (
        f"Trong {report.period_label}, tình hình an ninh chính trị, trật tự an toàn xã hội trên địa bàn {where} "
        "cơ bản ổn định."
    )
    if report.completeness.expected == 0:
        text += f" Kỳ này không có {_units(report)} nào thuộc diện phải báo cáo."
    return text


def _leadership(report: Report, where: str) -> str:
    return (
        f"Thực hiện {DIRECTIVE}, lực lượng Công an phối hợp với Ủy ban Mặt trận Tổ quốc Việt Nam cùng cấp tham "
        f"mưu cấp ủy, chính quyền {where} lãnh đạo, chỉ đạo triển khai {MOVEMENT}; hướng dẫn các {_units(report)} "
        "xây dựng kế hoạch, gắn phong trào với các cuộc vận động, phong trào thi đua ở khu dân cư."
    )


def _festival(report: Report) -> str:
    """Only when the period takes in 19 August, the day of the festival."""
    if not report.covers_festival:
        return ""
    when = "Hằng năm" if report.kind == ReportKind.MULTI_YEAR else "Nhân dịp 19/8"
    return (
        f"{when}, các {_units(report)} tổ chức “Ngày hội toàn dân bảo vệ an ninh Tổ quốc” ở khu dân cư, "
        "biểu dương những tập thể, cá nhân tiêu biểu, tạo không khí phấn khởi trong Nhân dân."
    )


def _strengths(report: Report) -> str:
    text = (
        "Cấp ủy, chính quyền quan tâm lãnh đạo, chỉ đạo; lực lượng Công an giữ vai trò nòng cốt, phối hợp "
        "chặt chẽ với Mặt trận và các đoàn thể; các tổ chức quần chúng tự quản về an ninh, trật tự ở cơ sở "
        "được duy trì."
    )
    c = report.completeness
    if len(report.units) > 1 and c.expected and c.collected == c.expected and not absent(report):
        text += f" 100% {_units(report)} gửi báo cáo số liệu hợp lệ."
    return text


def _weaknesses(report: Report) -> str:
    parts = []
    c = report.completeness
    if c.missing or c.failed:
        unreported = c.missing + c.failed
        parts.append(f"còn {format_int(len(unreported))} đơn vị chưa gửi báo cáo ({names(unreported)})")
    elif report.coverage is not None and report.coverage.missing:  # e.g. the communes formed by a reform
        missing = report.coverage.missing
        parts.append(f"còn {format_int(len(missing))} đơn vị chưa có số liệu ({names(missing)})")
    if c.rejected:
        parts.append(
            f"{format_int(len(c.rejected))} đơn vị gửi số liệu không hợp lệ, phải rà soát lại ({names(c.rejected)})"
        )
    # A fall is only a weakness when every unit reported; otherwise it is the missing figures talking.
    falls = None if absent(report) else changes(report, report.previous, falls=True, name="previous")
    if falls:
        parts.append(
            f"một số chỉ tiêu giảm so với {in_sentence(report.previous_label)}: " + "; ".join(falls[:MAX_CHANGES])
        )
    if not parts:
        return "Hoạt động của một số tổ, câu lạc bộ ở cơ sở chưa đều; việc nhân rộng mô hình còn chậm."
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] + "."


def _causes(report: Report) -> str:
    text = (
        "Một số cấp ủy, chính quyền cơ sở chưa quan tâm đúng mức; kinh phí, điều kiện bảo đảm cho hoạt động "
        "của các tổ chức quần chúng tự quản còn hạn chế; sự phối hợp giữa các lực lượng có lúc chưa chặt chẽ"
    )
    if absent(report):
        text += "; việc cập nhật, báo cáo số liệu ở một số đơn vị chưa được quan tâm, đôn đốc thường xuyên"
    return text + "."


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
    late = absent(report)
    if late:
        tasks.append(
            f"Đôn đốc {format_int(late)} đơn vị chưa có số liệu hợp lệ kỳ này báo cáo đầy đủ, "
            "đúng hạn; rà soát, bổ sung số liệu còn thiếu."
        )
    tasks.append("Phát hiện, biểu dương, khen thưởng kịp thời các tập thể, cá nhân tiêu biểu.")
    return tuple(tasks)


def _proposals(report: Report) -> str:
    above = report.heading.superior_body
    return (
        f"Đề nghị {above} tiếp tục quan tâm chỉ đạo, hướng dẫn; bố trí kinh phí hỗ trợ hoạt động của các "
        "mô hình, tổ chức quần chúng tự quản về an ninh, trật tự ở cơ sở."
    )
