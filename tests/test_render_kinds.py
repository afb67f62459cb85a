"""Every report kind through build_report on a real (SQLite) database, checked on the PDF's extracted text:
headings, figures, comparisons with earlier periods, completeness, and the operator's prose per schedule."""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Iterable
from datetime import date

import pytest
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import district
from tongket.models.periods import Period, PeriodType
from tongket.models.tables import Indicator, Run, RunUnit, Schedule, Submission, SubmissionStatus, Unit, UnitState
from tongket.scheduler.plan import plan_run
from tongket.worker import states
from tongket.worker.render import render_report
from tongket.worker.report.compose import build_report
from tongket.worker.report.figures import Report
from tongket.worker.report.numbers import format_int

REPORT_DATE = date(2024, 1, 15)
MISSING, REJECTED = 4, 5  # the communes (1-based) that do not deliver figures for the report's period
STOCK_CODES = ("security_teams", "patrol_teams", "mediation_teams")
FLOW_CODES = ("propaganda_sessions", "cases_mediated", "collectives_commended", "individuals_commended")


def value(code: str, unit: int, period: Period) -> int:
    """A commune's figure for a period: stocks grow by one every half year, flows do not accumulate."""
    months = (period.end.year - 2000) * 12 + period.end.month
    if code in STOCK_CODES:
        return 10 * unit + STOCK_CODES.index(code) + months // 6
    return unit + FLOW_CODES.index(code) + period.months


def deliver(session: Session, units: list[Unit], periods: Iterable[Period], skip: tuple[int, ...] = ()) -> None:
    """Accepted submissions for each unit and period, straight into the tables (no forms to parse)."""
    ids = {i.code: i.id for i in session.scalars(select(Indicator))}
    from tongket.models.tables import Value

    for period in periods:
        for n, unit in enumerate(units, start=1):
            if n in skip:
                continue
            values = [Value(indicator_id=ids[c], value=value(c, n, period)) for c in STOCK_CODES + FLOW_CODES]
            session.add(
                Submission(
                    unit_id=unit.id,
                    period_id=period.id,
                    origin="test",
                    checksum=f"{n}-{period.id}",
                    status=SubmissionStatus.ACCEPTED,
                    values=values,
                )
            )
    session.flush()


def plan_and_collect(
    session: Session,
    scope: Unit,
    kind: str,
    period: Period,
    schedule: Schedule | None = None,
    narrative: dict | None = None,
) -> Run:
    """A run whose communes are settled as collection would leave them: one missing, one rejected."""
    run = plan_run(
        session,
        scope=scope,
        kind=kind,
        period=period,
        report_date=REPORT_DATE,
        schedule_id=schedule.id if schedule else None,
        narrative=narrative,
    )
    session.flush()
    states.start_run(session, run.id, collect_minutes=5)
    for n, ru in enumerate(
        session.scalars(select(RunUnit).where(RunUnit.run_id == run.id).order_by(RunUnit.unit_id)), start=1
    ):
        state = {MISSING: UnitState.MISSING, REJECTED: UnitState.REJECTED}.get(n, UnitState.COLLECTED)
        errors = ["Ô F7: số tổ an ninh nhân dân là -4, phải là số không âm"] if state == UnitState.REJECTED else []
        states.record_unit(session, run.id, ru.unit_id, state, errors)
    session.flush()
    return run


def text_of(pdf: bytes) -> str:
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", " ".join(pages))).strip()


def district_total(code: str, period: Period, communes: int, skip: tuple[int, ...] = (MISSING, REJECTED)) -> int:
    return sum(value(code, n, period) for n in range(1, communes + 1) if n not in skip)


# kind, period, its previous period, the same period a year earlier (None: not shown), headings of III/IV
KINDS = [
    ("monthly", "2023-05", "2023-04", "2022-05", "III. ĐÁNH GIÁ CHUNG", "IV. PHƯƠNG HƯỚNG, NHIỆM VỤ THÁNG 6 NĂM 2023"),
    ("quarterly", "2023Q2", "2023Q1", "2022Q2", "III. ĐÁNH GIÁ CHUNG", "IV. PHƯƠNG HƯỚNG, NHIỆM VỤ QUÝ III NĂM 2023"),
    (
        "half_year",
        "2023S1",
        "2022S2",
        "2022S1",
        "III. ƯU ĐIỂM, HẠN CHẾ, NGUYÊN NHÂN VÀ BÀI HỌC KINH NGHIỆM",
        "IV. NHIỆM VỤ, GIẢI PHÁP 6 THÁNG CUỐI NĂM 2023",
    ),
    (
        "annual",
        "2023",
        "2022",
        None,
        "III. ƯU ĐIỂM, HẠN CHẾ, NGUYÊN NHÂN VÀ BÀI HỌC KINH NGHIỆM",
        "IV. NHIỆM VỤ, GIẢI PHÁP NĂM 2024",
    ),
    (
        "multi_year",
        "2019..2023",
        None,
        None,
        "III. ƯU ĐIỂM, HẠN CHẾ, NGUYÊN NHÂN VÀ BÀI HỌC KINH NGHIỆM",
        "IV. NHIỆM VỤ, GIẢI PHÁP TRONG THỜI GIAN TỚI",
    ),
]
COMMUNES = 6


def kind_report(session: Session, kind: str, period_id: str, previous: str | None, earlier: str | None) -> Report:
    """The district with figures for the period, its comparisons and (for the trend) the periods before."""
    scope, units = district(session, communes=COMMUNES)
    period = Period.parse(period_id)
    # Figures for every period of its type from 2021 on, so the trend has history and the comparisons data.
    fine = PeriodType.YEAR if period.type is PeriodType.YEARS else period.type
    history = [p for p in Period.parse("2019..2023").subperiods(fine) if p != period and p.end <= period.end]
    deliver(session, units, history)
    deliver(session, units, [period] if period.type is not PeriodType.YEARS else [], skip=(MISSING, REJECTED))
    if period.type is PeriodType.YEARS:  # the last year is the one the two communes failed to deliver
        last = period.subperiods(PeriodType.YEAR)[-1]
        session.execute(
            Submission.__table__.delete().where(
                Submission.period_id == last.id, Submission.unit_id.in_([units[MISSING - 1].id, units[REJECTED - 1].id])
            )
        )
    run = plan_and_collect(session, scope, kind, period)
    return build_report(session, run.id)


@pytest.mark.parametrize(("kind", "period_id", "previous", "earlier", "review", "tasks"), KINDS)
def test_each_kind_reads_right(
    session: Session, kind: str, period_id: str, previous: str | None, earlier: str | None, review: str, tasks: str
) -> None:
    report = kind_report(session, kind, period_id, previous, earlier)
    text = text_of(render_report(report))
    period = Period.parse(period_id)
    end = period.subperiods(PeriodType.YEAR)[-1] if period.type is PeriodType.YEARS else period

    for heading in (
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "BÁO CÁO",
        "I. TÌNH HÌNH CHUNG",
        "II. KẾT QUẢ THỰC HIỆN",
        f"Bảng 1. Kết quả chủ yếu {report.period_label}",
        review,
        tasks,
        "Nơi nhận:",
    ):
        assert heading in text, heading
    # The totals over the communes that reported, in the totals table and the results sentence.
    for code in STOCK_CODES:
        assert format_int(district_total(code, end, COMMUNES)) in text, code
    assert f"{format_int(district_total('security_teams', end, COMMUNES))} tổ an ninh nhân dân" in text
    # Completeness: 4 of 6 reported; the missing and rejected communes are named with the reason.
    assert f"4/{COMMUNES} xã (đạt 66,7%)" in text
    assert "Xã Thử 4 (chưa báo cáo)" in text and "Xã Thử 5 (bị từ chối)" in text
    assert "Ô F7: số tổ an ninh nhân dân là -4, phải là số không âm" in text
    assert re.search(r"Đã báo cáo, số liệu hợp lệ 4 66,7%", text)
    last = report.trend[-1].label
    last = f"năm {last}" if last.isdigit() else last[:1].lower() + last[1:]
    assert f"Số liệu {last} chỉ gồm 4/{COMMUNES} đơn vị có số liệu hợp lệ." in text
    _check_comparisons(text, kind, period, previous, earlier)


def _check_comparisons(text: str, kind: str, period: Period, previous: str | None, earlier: str | None) -> None:
    """The security-teams row of Bảng 1: now, marked incomplete (two communes short), then for each comparison
    the old total and dashes: a total that misses communes is not compared."""
    now = district_total("security_teams", period, COMMUNES)
    row = f"Tổ an ninh nhân dân tổ Số hiện có {format_int(now)}*"
    for other_id, group in (
        (previous, "So với kỳ trước" if kind != "annual" else "So với năm trước"),
        (earlier, "So với cùng kỳ năm trước"),
    ):
        if other_id is None:
            assert group not in text
            continue
        assert group in text
        before = district_total("security_teams", Period.parse(other_id), COMMUNES, skip=())
        row += f" {format_int(before)} — —"
    assert row in text, row


def test_no_earlier_figures_shows_dashes_not_zeros(session: Session) -> None:
    scope, units = district(session, communes=3)
    deliver(session, units, [Period.parse("2023-05")])
    report = build_report(session, plan_and_collect(session, scope, "monthly", Period.parse("2023-05")).id)
    assert report.previous == {} and report.year_earlier == {}
    text = text_of(render_report(report))
    assert "So với kỳ trước" in text and "So với cùng kỳ năm trước" in text
    assert "Chưa có số liệu tháng 4/2023 để so sánh." in text
    assert re.search(r"Tổ an ninh nhân dân tổ Số hiện có [\d.]+ — — — — — —", text)


def test_schedule_narrative_is_used_and_the_run_overrides_it(session: Session) -> None:
    scope, units = district(session, communes=3)
    deliver(session, units, [Period.parse("2023")])
    schedule = Schedule(
        scope_unit_id=scope.id,
        kind="annual",
        period_type="year",
        narrative={
            "signer_name": "Trần Văn Ký",
            "lessons": "Bài học của lịch.",
            "tasks": ["Việc một của lịch.", "Việc hai của lịch."],
        },
    )
    session.add(schedule)
    session.flush()
    decomposed = unicodedata.normalize("NFD", "Bài học riêng của lần chạy này.")
    run = plan_and_collect(
        session, scope, "annual", Period.parse("2023"), schedule=schedule, narrative={"lessons": decomposed}
    )
    report = build_report(session, run.id)
    assert report.heading.signer_name == "Trần Văn Ký"
    assert report.narrative.lessons == unicodedata.normalize("NFC", decomposed)
    assert report.narrative.tasks == ("Việc một của lịch.", "Việc hai của lịch.")
    assert report.totals["tasks_set"] == 2
    text = text_of(render_report(report))
    assert "Trần Văn Ký" in text and "Bài học riêng của lần chạy này." in text and "2. Việc hai của lịch." in text


def test_generated_prose_states_the_figures(session: Session) -> None:
    report = kind_report(session, "quarterly", "2023Q2", "2023Q1", "2022Q2")
    n, said = report.narrative, report.statements
    now = district_total("security_teams", Period.parse("2023Q2"), COMMUNES)
    before = district_total("security_teams", Period.parse("2023Q1"), COMMUNES, skip=())
    levels = " ".join(said["models"])
    assert levels.startswith(f"Tính đến ngày 30/6/2023, toàn huyện đã xây dựng, duy trì {format_int(now)} tổ an ninh")
    # Two communes short this quarter: the fall is theirs, not the movement's, and is not stated.
    assert f"giảm {format_int(before - now)} tổ" not in levels
    assert "Do số liệu chưa đầy đủ, chưa so sánh với quý I/2023." in levels
    assert "Do số liệu chưa đầy đủ, chưa so sánh với quý II/2022." in levels
    assert said["results"][0].startswith(
        "Số liệu trong báo cáo tính đến ngày 30/6/2023, tổng hợp từ báo cáo của 4/6 xã"
    )
    mediated = format_int(district_total("cases_mediated", Period.parse("2023Q2"), 6))
    assert f"các tổ hòa giải ở cơ sở hòa giải thành {mediated} vụ việc" in " ".join(said["crime"])
    assert n.weaknesses.startswith("Còn 1 đơn vị chưa gửi báo cáo (xã Thử 4); 1 đơn vị gửi số liệu không hợp lệ")
    assert "xã Thử 5" in n.weaknesses
    assert n.lessons == ""  # a quarterly report draws no lessons unless the operator writes them
    assert any("quý III năm 2023" in t for t in n.tasks)
    assert "commendations" not in said  # the office stated no commendations: no sentence, no zero
    for block in (n.situation, n.leadership, n.weaknesses, n.causes, *n.tasks, *levels):
        assert block == unicodedata.normalize("NFC", block)
        assert "None" not in block and "{" not in block


HOSTILE = (
    "Xã <font color=red>Đỏ</font>",
    "Xã Hòa & Bình",
    "Xã </para><para>Mới",
    "Xã Có Cái Tên Rất Dài Vì Được Ghép Từ Ba Xã Cũ Là Tân Hội, Tân Thành Và N'Thol Hạ Theo Nghị Quyết Năm 2025",
)


def test_commune_names_from_the_database_render_literally_and_wrap(session: Session) -> None:
    scope, units = district(session, communes=6)
    for unit, name in zip(units, HOSTILE, strict=False):
        unit.name = name
    deliver(session, units, [Period.parse("2023")], skip=(MISSING, REJECTED))
    report = build_report(session, plan_and_collect(session, scope, "annual", Period.parse("2023")).id)
    pdf = render_report(report)
    text = text_of(pdf)
    for name in HOSTILE[:3]:
        assert name in text, name  # in the per-unit table, the bars and the completeness list
    assert text.count("Xã </para><para>Mới") >= 2
    assert HOSTILE[3] in text  # wrapped in its cell, every word still there
    assert render_report(build_report(session, report_run_id(session))) == pdf  # same inputs, same bytes


def report_run_id(session: Session) -> int:
    return session.scalars(select(Run.id)).one()


def test_late_and_on_time_rows_when_deadlines_are_tracked() -> None:
    from tests.test_render import sample_report
    from tongket.worker.report.figures import Completeness

    report = sample_report(completeness=Completeness(15, 15, rejected=(), missing=(), late=("Xã Tà Năng",), on_time=14))
    text = text_of(render_report(report))
    assert "Trong đó: báo cáo đúng hạn 14 93,3%" in text
    assert "Trong đó: báo cáo sau hạn 1 6,7%" in text
    assert "Đơn vị báo cáo sau hạn (1): - Xã Tà Năng" in text


def test_a_commune_report_has_no_per_unit_table(session: Session) -> None:
    scope, units = district(session, communes=1)
    deliver(session, units, [Period.parse("2023-05")])
    report = build_report(session, plan_and_collect(session, scope, "monthly", Period.parse("2023-05")).id)
    text = text_of(render_report(report))
    assert "Số liệu theo đơn vị" not in text and "Tình hình báo cáo của các đơn vị" not in text
    assert "1/1 xã" not in text and "(đạt 100%)" not in text and "Phụ lục" not in text  # nothing to append


def test_a_multi_year_review_measures_from_its_first_year(session: Session) -> None:
    report = kind_report(session, "multi_year", "2019..2023", None, None)
    first = district_total("security_teams", Period.parse("2019"), COMMUNES, skip=())
    last = district_total("security_teams", Period.parse("2023"), COMMUNES)
    assert report.previous is None and report.year_earlier is None  # nothing for 2014..2018
    # 2023 misses two communes: no change against the first year is stated.
    assert "Do số liệu chưa đầy đủ, chưa so sánh với năm 2019 (năm đầu giai đoạn)." in report.statements["models"]
    text = text_of(render_report(report))
    assert "So với năm đầu giai đoạn Năm 2019" in text  # Bảng 1's first-year column
    assert f"Tổ an ninh nhân dân tổ Số hiện có {format_int(last)}* {format_int(first)} — —" in text
