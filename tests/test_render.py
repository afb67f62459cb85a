"""The rendered PDF, checked on what a reader sees: extracted text, pages, fonts and metadata."""

from __future__ import annotations

import dataclasses
import io
import re
import unicodedata
from datetime import date

import pytest
from pypdf import PdfReader
from reportlab.pdfbase.ttfonts import TTFont

from tongket.cli.demo_data import COMMUNES
from tongket.worker.render import render_report
from tongket.worker.render.fonts import LIBERATION_DIRS, FontError, register_fonts
from tongket.worker.render.styles import build_styles
from tongket.worker.render.tables import column_groups
from tongket.worker.render.text import VIETNAMESE_LETTERS, para
from tongket.worker.render.unit_chart import main_indicator
from tongket.worker.report.figures import (
    Completeness,
    Heading,
    IndicatorInfo,
    Narrative,
    PeriodFigures,
    Report,
    UnitFigures,
)
from tongket.worker.report.numbers import curly_quotes, format_date_vi, format_int, format_percent, format_signed
from tongket.worker.report.statements import statements

# --- the Đức Trọng reference case (FACTS.md) ------------------------------------------------------------


# code, name, measure, kind, level, district total stated at the 17 May 2023 review
REFERENCE = (
    ("security_teams", "Tổ an ninh nhân dân", "tổ", "stock", "commune", 618),
    ("patrol_teams", "Tổ tuần tra nghĩa vụ", "tổ", "stock", "commune", 107),
    ("patrol_members", "Người tham gia tổ tuần tra", "người", "stock", "commune", 858),
    ("mediation_teams", "Tổ hòa giải", "tổ", "stock", "commune", 205),
    ("civil_defence_teams", "Đội dân phòng", "đội", "stock", "commune", 27),
    ("residence_points", "Điểm đăng ký tạm trú", "điểm", "stock", "commune", 125),
    ("street_protection_boards", "Ban bảo vệ dân phố", "ban", "stock", "commune", 1),
    ("crime_free_clubs", "CLB “Văn hóa khu phố không có tội phạm”", "câu lạc bộ", "stock", "commune", 127),
    ("youth_clubs", "CLB “Tuổi trẻ phòng chống tội phạm”", "câu lạc bộ", "stock", "commune", 9),
    ("farmer_law_clubs", "CLB “Nông dân với pháp luật”", "câu lạc bộ", "stock", "commune", 10),
    ("gong_teams", "Tổ kẻng an ninh", "tổ", "stock", "commune", 68),
    ("gong_members", "Người trực tổ kẻng", "người", "stock", "commune", 545),
    # The reporting office's own figures: the commendations it made at the review (not commune figures).
    ("collectives_commended", "Tập thể được khen thưởng", "tập thể", "flow", "report", 22),
    ("individuals_commended", "Cá nhân được khen thưởng", "cá nhân", "flow", "report", 22),
)
INDICATORS = tuple(IndicatorInfo(code, name, measure, kind, level) for code, name, measure, kind, level, _ in REFERENCE)
TOTALS = {code: total for code, *_, total in REFERENCE}  # the 7 tasks set are counted from TASKS, not a row

TASKS = (
    "Tiếp tục quán triệt Chỉ thị 09-CT/TW và Chương trình phối hợp số 06/CTr-CA-MT đến từng khu dân cư.",
    "Củng cố, kiện toàn các tổ an ninh nhân dân, tổ tuần tra nghĩa vụ, tổ hòa giải ở cơ sở.",
    'Nhân rộng mô hình "giúp nhau lập nghiệp, phòng chống bạo lực gia đình".',
    'Gắn phong trào với cuộc vận động "Toàn dân đoàn kết xây dựng đời sống văn hóa ở khu dân cư".',
    'Tổ chức tốt "Ngày hội toàn dân bảo vệ an ninh Tổ quốc" (19/8) hằng năm.',
    "Nâng cao chất lượng tin báo, tố giác tội phạm của quần chúng nhân dân.",
    "Kịp thời sơ kết, tổng kết, khen thưởng các tập thể, cá nhân tiêu biểu.",
)


def _split(total: int, parts: int) -> list[int]:
    """Deterministic, uneven split of a district total over the communes (sums back exactly)."""
    weights = [(i * 7) % 5 + 1 for i in range(parts)]
    shares = [total * w // sum(weights) for w in weights]
    shares[0] += total - sum(shares)
    return shares


def _heading() -> Heading:
    return Heading(
        superior_body="Công an tỉnh Lâm Đồng",
        issuing_body="Công an huyện Đức Trọng",
        number="Số: 125/BC-CAH",
        place="Đức Trọng",
        issued_on=date(2023, 5, 17),
        title="Báo cáo",
        summary=(
            "Tổng kết 10 năm thực hiện Chương trình phối hợp số 06/CTr-CA-MT về "
            '"Đẩy mạnh phong trào toàn dân bảo vệ an ninh Tổ quốc trong tình hình mới"'
        ),
        signer_title="Trưởng Công an huyện",
        signer_name="Nguyễn Văn Mẫu",
        recipients=(
            "Công an tỉnh Lâm Đồng (PV05)",
            "Ban Thường trực UBMTTQ Việt Nam huyện",
            "Thường trực Huyện ủy, HĐND, UBND huyện",
            "Công an các xã, thị trấn",
            "Lưu: VT, ANTQ",
        ),
    )


def _narrative() -> Narrative:
    return Narrative(
        situation=(
            "Trên địa bàn huyện Đức Trọng có 15 xã, thị trấn. Tình hình an ninh chính trị, "
            "trật tự an toàn xã hội cơ bản ổn định; phong trào toàn dân bảo vệ an ninh Tổ quốc "
            "được duy trì và phát triển rộng khắp.\n"
            "Công an huyện và Ủy ban Mặt trận Tổ quốc Việt Nam huyện phối hợp chặt chẽ trong chỉ đạo, "
            "hướng dẫn cơ sở xây dựng phong trào gắn với các cuộc vận động "
            '"Xây dựng nông thôn mới, đô thị văn minh", '
            '"Dân vận khéo" và "Thực hiện quy chế dân chủ ở cơ sở".'
        ),
        results="Sau 10 năm thực hiện chương trình phối hợp, các chỉ tiêu chủ yếu đạt kết quả như sau.",
        leadership="Công an huyện và Ủy ban MTTQ Việt Nam huyện ban hành kế hoạch liên tịch hằng năm.",
        festival="Hằng năm, các xã, thị trấn tổ chức “Ngày hội toàn dân bảo vệ an ninh Tổ quốc” (19/8).",
        causes="Kinh phí hỗ trợ của địa phương còn khó khăn.",
        proposals="Đề nghị Công an tỉnh tiếp tục quan tâm chỉ đạo, hướng dẫn.",
        strengths="Cấp ủy, chính quyền quan tâm lãnh đạo; lực lượng nòng cốt ở cơ sở được củng cố.",
        weaknesses="Một số mô hình hoạt động còn hình thức; kinh phí hỗ trợ lực lượng cơ sở còn hạn chế.",
        lessons=("Phải phát huy vai trò của người dân, lấy khu dân cư làm địa bàn chủ yếu để xây dựng phong trào."),
        tasks=TASKS,
        commendations=("Ủy ban nhân dân huyện tặng giấy khen cho 22 tập thể và 22 cá nhân có thành tích xuất sắc."),
    )


def _trend(years: range = range(2014, 2024)) -> tuple[PeriodFigures, ...]:
    out = []
    for n, year in enumerate(years):
        share = 0.55 + 0.45 * n / (len(years) - 1)  # the stocks grow to the 2023 level
        totals: dict[str, int | None] = {
            code: round(total * share) if kind == "stock" else total // len(years)
            for code, _, _, kind, _, total in REFERENCE
        }
        out.append(PeriodFigures(str(year), str(year), totals))
    return tuple(out)


def sample_report(**changes: object) -> Report:
    """The Đức Trọng 2014–2023 review: 15 communes, all reported, reference totals."""
    per_unit = {code: _split(total, len(COMMUNES)) for code, total in TOTALS.items()}
    units = tuple(
        UnitFigures(
            code,
            name,
            "collected",
            {ind.code: per_unit[ind.code][n] for ind in INDICATORS if ind.level == "commune"},
        )
        for n, (code, name) in enumerate(COMMUNES)
    )
    report = Report(
        kind="multi_year",
        period_id="2014..2023",
        period_label="giai đoạn 2014 - 2023",
        scope_code="678",
        scope_name="huyện Đức Trọng",
        heading=_heading(),
        indicators=INDICATORS,
        totals=dict(TOTALS),
        trend=_trend(),
        units=units,
        completeness=Completeness(expected=15, collected=15, rejected=(), missing=()),
        narrative=_narrative(),
        notes=("Số liệu tổ, câu lạc bộ là số hiện có tại thời điểm cuối kỳ; số lượt, vụ việc là lũy kế cả kỳ.",),
        first_year=_trend()[0],
        cutoff=date(2023, 12, 31),
    )
    report = dataclasses.replace(report, **changes)  # type: ignore[arg-type]
    return dataclasses.replace(report, statements=statements(report))


MARKUP_NAME = "Xã <font color=red>X</font> & </para>"


def troubled_report() -> Report:
    """Units that did not report, a markup-looking name, and comparisons with earlier periods."""
    base = sample_report()
    units = list(base.units)
    units[1] = dataclasses.replace(units[1], name=MARKUP_NAME)
    rejected = units[8]
    units[8] = dataclasses.replace(
        rejected,
        state="rejected",
        values=dict.fromkeys(rejected.values),
        problems=("Dòng 4, cột C: số người trực tổ kẻng nhỏ hơn số tổ kẻng",),
    )
    units[14] = dataclasses.replace(units[14], state="missing", values=dict.fromkeys(units[14].values))
    return dataclasses.replace(
        base,
        units=tuple(units),
        completeness=Completeness(15, 13, rejected=(rejected.name,), missing=(units[14].name,)),
        previous={code: (v * 4 // 5 if v else 0) for code, v in TOTALS.items()},
        year_earlier={**{code: v - 1 for code, v in TOTALS.items()}, "individuals_commended": None},
        first_year=None,
    )


def synthetic_report(count: int = 124) -> Report:
    """A province-size run (124 communes, as Lâm Đồng since 2025) to exercise page breaks."""
    base = sample_report()
    units = tuple(
        UnitFigures(f"{30000 + n:05d}", f"Xã Thử nghiệm {n:03d}", "collected", {c: 1000 + n for c in TOTALS})
        for n in range(1, count + 1)
    )
    totals: dict[str, int | None] = {c: sum(1000 + n for n in range(1, count + 1)) for c in TOTALS}
    return dataclasses.replace(
        base, units=units, totals=totals, completeness=Completeness(count, count, rejected=(), missing=())
    )


# --- helpers --------------------------------------------------------------------------------------------


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", text)).strip()


def pages_text(pdf: bytes) -> list[str]:
    return [_clean(page.extract_text()) for page in PdfReader(io.BytesIO(pdf)).pages]


@pytest.fixture(scope="module")
def sample_pdf() -> bytes:
    return render_report(sample_report())


@pytest.fixture(scope="module")
def sample_text(sample_pdf: bytes) -> str:
    return " ".join(pages_text(sample_pdf))


@pytest.fixture(scope="module")
def troubled_pages() -> list[str]:
    return pages_text(render_report(troubled_report()))


# --- formatting -----------------------------------------------------------------------------------------


def test_numbers_are_formatted_the_vietnamese_way() -> None:
    assert format_int(1234) == "1.234"
    assert format_int(1234567) == "1.234.567"
    assert format_int(0) == "0"
    assert format_int(None) == "—"
    assert format_int(-1234) == "-1.234"
    assert format_signed(12) == "+12" and format_signed(-3) == "-3"
    assert format_percent(12.5) == "12,5%"
    assert format_percent(1234.56) == "1.234,6%"
    assert format_percent(12.5, signed=True) == "+12,5%"
    assert format_percent(100.0) == "100%" and format_percent(0.0) == "0%"  # never "100,0%"
    assert curly_quotes('CLB "Nông dân với pháp luật"') == "CLB “Nông dân với pháp luật”"


def test_dates_follow_decree_30() -> None:
    assert format_date_vi(date(2023, 5, 17)) == "ngày 17 tháng 5 năm 2023"
    assert format_date_vi(date(2024, 1, 5)) == "ngày 05 tháng 01 năm 2024"
    assert format_date_vi(date(2024, 2, 29)) == "ngày 29 tháng 02 năm 2024"
    assert format_date_vi(date(2024, 12, 9)) == "ngày 09 tháng 12 năm 2024"


def test_para_escapes_and_normalises() -> None:
    decomposed = unicodedata.normalize("NFD", "Đức Trọng")
    assert para(decomposed) == "Đức Trọng"
    assert para("a <b> & c") == "a &lt;b&gt; &amp; c"


def test_column_groups_are_balanced() -> None:
    sizes = [len(g) for g in column_groups(INDICATORS[:14])]
    assert sizes == [5, 5, 4]
    assert [len(g) for g in column_groups(INDICATORS[:6])] == [6]


# --- fonts ----------------------------------------------------------------------------------------------


def _liberation_installed() -> bool:
    return any((d / "LiberationSerif-Regular.ttf").is_file() for d in LIBERATION_DIRS)


@pytest.mark.parametrize("choice", ["crimson", "liberation", "bevietnampro"])
def test_every_face_covers_all_vietnamese_letters(choice: str) -> None:
    if choice == "liberation" and not _liberation_installed():
        pytest.skip("fonts-liberation2 not installed")
    fonts = register_fonts(choice)
    assert len(VIETNAMESE_LETTERS) == 146  # 73 a-e-i-o-u-y-đ letters per case, 67 of them with marks
    assert sum(not c.isascii() for c in VIETNAMESE_LETTERS) == 134
    for face, path in fonts.faces().items():
        cmap = TTFont(f"check-{face}", str(path)).face.charToGlyph
        missing = [c for c in VIETNAMESE_LETTERS if ord(c) not in cmap]
        assert not missing, f"{face} ({path}) lacks {''.join(missing)}"


def test_font_choice_is_idempotent_and_checked() -> None:
    assert register_fonts("bevietnampro").family == "BeVietnamPro"
    assert register_fonts("bevietnampro") is register_fonts("bevietnampro")
    with pytest.raises(FontError):
        register_fonts("comic-sans")


def test_pip_font_renders_the_report() -> None:
    pdf = render_report(sample_report(), font="bevietnampro")
    text = " ".join(pages_text(pdf))
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in text
    fonts = {str(f["/BaseFont"]) for page in PdfReader(io.BytesIO(pdf)).pages for f in _fonts(page)}
    assert fonts and all("BeVietnamPro" in f for f in fonts), fonts


def _fonts(page) -> list:  # type: ignore[no-untyped-def]
    resources = page["/Resources"]
    return [ref.get_object() for ref in resources.get("/Font", {}).values()]


# --- the sample report ----------------------------------------------------------------------------------


def test_heading_block(sample_text: str) -> None:
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in sample_text
    assert "Độc lập - Tự do - Hạnh phúc" in sample_text
    assert "CÔNG AN TỈNH LÂM ĐỒNG" in sample_text
    assert "CÔNG AN HUYỆN ĐỨC TRỌNG" in sample_text
    assert "Số: 125/BC-CAH" in sample_text
    assert "Đức Trọng, ngày 17 tháng 5 năm 2023" in sample_text
    assert "BÁO CÁO" in sample_text


def test_sections_in_order(sample_text: str) -> None:
    headings = [
        "I. TÌNH HÌNH CHUNG",
        "II. KẾT QUẢ THỰC HIỆN",
        "1. Công tác lãnh đạo, chỉ đạo, hướng dẫn",  # areas with neither text nor figures are left out
        "2. Xây dựng, củng cố, nhân rộng mô hình, tổ chức quần chúng tự quản",
        "3. Tổ chức “Ngày hội toàn dân bảo vệ an ninh Tổ quốc”",
        "4. Công tác khen thưởng",
        "Bảng 1. Kết quả chủ yếu giai đoạn 2014 - 2023",
        "Ghi chú:",
        "III. ƯU ĐIỂM, HẠN CHẾ, NGUYÊN NHÂN VÀ BÀI HỌC KINH NGHIỆM",
        "1. Ưu điểm",
        "2. Hạn chế",
        "3. Nguyên nhân",
        "4. Bài học kinh nghiệm",
        "IV. NHIỆM VỤ, GIẢI PHÁP TRONG THỜI GIAN TỚI",
        "V. KIẾN NGHỊ, ĐỀ XUẤT",
        "Nơi nhận:",
        "Phụ lục I SỐ LIỆU THEO ĐƠN VỊ",
        "Bảng 2. Số liệu theo đơn vị",
        "Phụ lục II BIỂU ĐỒ",
        "Biểu đồ 1.",
        "Phụ lục III TÌNH HÌNH BÁO CÁO CỦA CÁC ĐƠN VỊ",
        "Bảng 3. Tình hình báo cáo của các đơn vị",
    ]
    positions = [sample_text.find(h) for h in headings]
    assert all(p >= 0 for p in positions), dict(zip(headings, positions, strict=True))
    assert positions == sorted(positions)


def test_every_indicator_and_total_is_shown(sample_text: str) -> None:
    for _code, name, _measure, _kind, _level, total in REFERENCE:
        assert name in sample_text
        assert re.search(rf"(?<![\d.]){total}(?![\d.,])", sample_text), (name, total)
    assert "Số hiện có" in sample_text and "Lũy kế" in sample_text
    assert "Đức Trọng" in sample_text
    for _code, commune in COMMUNES:
        assert commune in sample_text


def test_tasks_are_numbered(sample_text: str) -> None:
    for n, task in enumerate(TASKS, start=1):
        assert f"{n}. {task}" in sample_text


def test_closing(sample_text: str) -> None:
    assert "TRƯỞNG CÔNG AN HUYỆN" in sample_text
    assert "Nguyễn Văn Mẫu" in sample_text
    assert "- Công an tỉnh Lâm Đồng (PV05);" in sample_text
    assert "- Lưu: VT, ANTQ." in sample_text


def test_page_numbers_start_on_page_two(sample_pdf: bytes) -> None:
    reader = PdfReader(io.BytesIO(sample_pdf))
    assert len(reader.pages) >= 3
    for index, page in enumerate(reader.pages):
        height = float(page.mediabox.height)
        top: list[str] = []

        def visit(text, cm, tm, font, size, top=top, height=height):  # type: ignore[no-untyped-def]
            y = cm[5] + tm[5] * cm[3] if cm else tm[5]
            if text.strip() and y > height - 20 * 72 / 25.4:  # inside the top margin
                top.append(text.strip())

        page.extract_text(visitor_text=visit)
        expected = [] if index == 0 else [str(index + 1)]
        assert top == expected, (index, top)


def test_metadata(sample_pdf: bytes) -> None:
    reader = PdfReader(io.BytesIO(sample_pdf))
    report = sample_report()
    assert reader.metadata is not None
    assert reader.metadata.title == "BÁO CÁO " + report.heading.summary
    assert reader.metadata.author == "Công an huyện Đức Trọng"
    assert "giai đoạn 2014 - 2023" in (reader.metadata.subject or "")
    assert reader.root_object["/Lang"] == "vi"
    assert reader.metadata["/CreationDate"] == "D:20230517000000+07'00'"  # the document's date, fixed


def test_same_report_same_bytes(sample_pdf: bytes) -> None:
    render_report(troubled_report())  # nothing from an earlier render leaks into the next
    assert render_report(sample_report()) == sample_pdf


def test_single_trend_point_skips_the_chart() -> None:
    report = sample_report(trend=_trend()[-1:])
    text = " ".join(pages_text(render_report(report)))
    assert "Diễn biến" not in text and "Bảng 3." in text
    assert "Biểu đồ 1. Số tổ an ninh nhân dân theo đơn vị" in text  # the per-unit bars remain


# --- units that did not report, hostile text, comparisons -----------------------------------------------


def test_markup_in_a_unit_name_renders_literally(troubled_pages: list[str]) -> None:
    text = " ".join(troubled_pages)
    assert MARKUP_NAME in text


def test_not_reported_is_a_dash_and_zero_stays_zero(troubled_pages: list[str]) -> None:
    text = " ".join(troubled_pages)
    # Phú Hội was rejected: every value of its row is a dash. Bình Thạnh reported 0 street boards.
    assert re.search(r"Xã Phú Hội \(bị từ chối\)( —){5}", text)
    assert re.search(r"Xã Ninh Loan \(chưa báo cáo\)( —){4}", text)
    assert re.search(r"Thị trấn Liên Nghĩa( \d+){5}", text)
    assert " 0 " in text
    assert "Dòng 4, cột C: số người trực tổ kẻng nhỏ hơn số tổ kẻng" in text


def test_comparison_columns(troubled_pages: list[str]) -> None:
    text = " ".join(troubled_pages)
    assert "So với kỳ trước" in text and "So với cùng kỳ năm trước" in text
    # security teams: 618 now, 494 before (+124, +25,1%), 617 a year earlier (+1, +0,2%)
    assert "618 494 +124 +25,1% 617 +1 +0,2%" in text
    # individuals commended: nothing a year earlier → dashes, not zeros
    assert "22 17 +5 +29,4% — — —" in text
    assert "Nhiệm vụ, giải pháp đề ra" not in text  # the tasks a report sets are no result


@pytest.fixture(scope="module")
def province_pages() -> list[str]:
    return pages_text(render_report(synthetic_report()))


def test_124_units_split_across_pages_with_the_header_repeated(province_pages: list[str]) -> None:
    pages = province_pages
    with_units = [p for p in pages if "Xã Thử nghiệm" in p and "Bảng 2" not in p and "Biểu đồ" not in p]
    assert len(with_units) >= 3, "the per-unit table should continue on further pages"
    for page in with_units:
        assert page.startswith(tuple(str(n) for n in range(2, 100)))
        assert re.search(r"STT Đơn vị Tổ an ninh nhân dân|STT Đơn vị Ban bảo vệ dân phố", page), page[:200]
    text = " ".join(pages)
    assert "Xã Thử nghiệm 124" in text and "Tổng cộng" in text
    assert format_int(sum(1000 + n for n in range(1, 125))) in text  # 131.750


def test_a_bare_report_still_renders() -> None:
    """No units, no trend, no prose, no recipients: a valid PDF, not a crash."""
    bare = sample_report(
        indicators=(),
        totals={},
        trend=(),
        units=(),
        notes=(),
        completeness=Completeness(0, 0, rejected=(), missing=()),
        narrative=Narrative("", "", "", "", "", tasks=()),
        first_year=None,
        heading=dataclasses.replace(_heading(), recipients=(), superior_body=""),
    )
    text = " ".join(pages_text(render_report(bare)))
    assert "II. KẾT QUẢ THỰC HIỆN" in text and "TRƯỞNG CÔNG AN HUYỆN" in text
    assert "Số liệu theo đơn vị" not in text and "Công tác khen thưởng" not in text
    assert "Phụ lục" not in text and "Tình hình báo cáo" not in text  # no units: nothing to append


def test_flat_zero_trend_draws_a_chart() -> None:
    zeros = tuple(PeriodFigures(p.period_id, p.label, dict.fromkeys(p.totals, 0)) for p in _trend())
    assert "Biểu đồ 1." in " ".join(pages_text(render_report(sample_report(trend=zeros))))


def test_the_blank_for_the_number_survives() -> None:
    report = sample_report(heading=dataclasses.replace(_heading(), number="Số:        /BC-CAH"))
    first = PdfReader(io.BytesIO(render_report(report))).pages[0].extract_text()
    assert re.search(r"Số:[ \u00a0]{8}/BC-CAH", unicodedata.normalize("NFC", first)), first[:300]


def test_per_unit_bars_follow_the_trend(sample_text: str) -> None:
    assert "Biểu đồ 2. Số tổ an ninh nhân dân theo đơn vị đến cuối giai đoạn 2014 - 2023" in sample_text
    assert "Kỳ này còn" not in sample_text  # every commune reported: no caveat under Bảng 1


def test_partial_figures_are_flagged_under_the_totals(troubled_pages: list[str]) -> None:
    text = " ".join(troubled_pages)
    assert "Kỳ này còn 2/15 đơn vị chưa có số liệu hợp lệ (xem Bảng 3, phụ lục)" in text
    assert re.search(r"Đã báo cáo, số liệu hợp lệ 13 86,7% Số liệu bị từ chối 1 6,7% Chưa báo cáo 1 6,7%", text)


def test_124_units_get_bars_on_every_page_of_the_chart(province_pages: list[str]) -> None:
    text = " ".join(province_pages)
    for part in (1, 2, 3, 4):  # at most 40 bars a chart: four balanced parts of 31
        assert f"theo đơn vị đến cuối giai đoạn 2014 - 2023 (phần {part}/4)" in text


LONG_NAME = (
    "Tổ an ninh nhân dân, tổ tự quản về an ninh trật tự, tổ dân phòng và các mô hình tự phòng, tự quản, "
    "tự bảo vệ khác ở khu dân cư được củng cố, kiện toàn, duy trì hoạt động thường xuyên và có hiệu quả "
    "trong công tác phòng ngừa, phát hiện, tố giác tội phạm"
)


@pytest.mark.parametrize("count", [40, 80])
def test_a_chart_under_a_long_caption_stays_on_the_captions_page(count: int) -> None:
    """A caption of four lines leaves less room for bars: the chart takes fewer, and never splits off its
    caption onto a page of its own (the suite once failed on a page of bars without a caption)."""
    report = synthetic_report(count)
    main = main_indicator(report)
    assert main is not None
    named = tuple(dataclasses.replace(i, name=LONG_NAME) if i.code == main.code else i for i in report.indicators)
    pages = pages_text(render_report(dataclasses.replace(report, indicators=named)))
    with_units = [p for p in pages if "Xã Thử nghiệm" in p]
    bare = [p[:80] for p in with_units if "Biểu đồ" not in p and not re.search(r"STT Đơn vị", p)]
    assert not bare, bare
    charts = [p for p in with_units if "Biểu đồ" in p]
    assert all(p.count("Biểu đồ 2.") == 1 for p in charts)  # one chart a page: each needs most of it
    assert sum(p.count("Xã Thử nghiệm") for p in charts) == count  # every unit has its bar


# --- typography -----------------------------------------------------------------------------------------


def _sizes(pdf: bytes) -> dict[float, set[str]]:
    """Font size -> some of the text drawn at it, over every page."""
    found: dict[float, set[str]] = {}
    for page in PdfReader(io.BytesIO(pdf)).pages:

        def visit(text, cm, tm, font, size, found=found):  # type: ignore[no-untyped-def]
            if text.strip():
                found.setdefault(round(size * abs(tm[3]), 1), set()).add(text.strip()[:20])

        page.extract_text(visitor_text=visit)
    return found


def test_printed_text_is_readable_and_paragraphs_are_spaced(sample_pdf: bytes) -> None:
    styles = build_styles(register_fonts())
    assert min(s.spaceAfter for s in (styles.body, styles.item, styles.section, styles.subsection)) >= 6
    assert min(s.fontSize for s in (styles.cell, styles.cell_num, styles.cell_center, styles.cell_head)) >= 10
    assert styles.cell_small_head.fontSize >= 9
    for pdf in (sample_pdf, render_report(troubled_report())):  # two comparisons: Bảng 1 at its widest
        sizes = _sizes(pdf)
        assert min(sizes) >= 9, {size: sizes[size] for size in sorted(sizes)[:2]}
