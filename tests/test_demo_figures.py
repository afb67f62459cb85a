"""The Đức Trọng demo figures reproduce the district's 2023 review totals and behave like real ones."""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path

import pytest

from tongket.cli.demo_data import COMMUNES, DISTRICT, PROVINCE, REFERENCE_TOTALS, YEARS, apportion, demo_figures

CATALOGUE = Path(__file__).resolve().parents[1] / "models" / "data" / "indicators.toml"
ROWS = tomllib.loads(CATALOGUE.read_text(encoding="utf-8"))["indicator"]
KINDS = {r["code"]: r["kind"] for r in ROWS}
TOWN = "24958"

FIGURES = demo_figures()


def total(code: str, year: int) -> int:
    return sum(FIGURES[commune, year][code] for commune, _ in COMMUNES)


def commune_codes_valid_2014_2023() -> set[str]:
    start, end = date(2014, 1, 1), date(2023, 12, 31)
    return {
        r["code"]
        for r in ROWS
        if r.get("level", "commune") == "commune"
        and date.fromisoformat(r.get("valid_from", "1900-01-01")) <= end
        and date.fromisoformat(r.get("valid_to", "2999-12-31")) >= start
    }


def stocks() -> list[str]:
    return [code for code in REFERENCE_TOTALS if KINDS[code] == "stock"]


def test_units_match_the_facts() -> None:
    assert (DISTRICT, PROVINCE) == (("678", "Huyện Đức Trọng"), ("68", "Tỉnh Lâm Đồng"))
    assert len(COMMUNES) == 15 and [c for c, _ in COMMUNES] == sorted(c for c, _ in COMMUNES)
    names = dict(COMMUNES)
    assert names[TOWN] == "Thị trấn Liên Nghĩa" and names["24970"] == "Xã Bình Thạnh"
    assert list(YEARS) == list(range(2014, 2024))


def test_every_commune_year_has_every_indicator_and_nothing_else() -> None:
    assert set(FIGURES) == {(c, y) for c, _ in COMMUNES for y in YEARS}
    expected = commune_codes_valid_2014_2023()
    assert "grassroots_security_teams" not in expected and "tasks_set" not in expected
    for values in FIGURES.values():
        assert set(values) == expected
        assert all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values.values())


def test_reference_codes_are_catalogue_codes() -> None:
    assert set(REFERENCE_TOTALS) <= set(KINDS)
    assert REFERENCE_TOTALS["tasks_set"] == 7 and len(REFERENCE_TOTALS) == 15


@pytest.mark.parametrize("code", stocks())
def test_2023_stocks_equal_the_review_totals(code: str) -> None:
    assert total(code, 2023) == REFERENCE_TOTALS[code]


@pytest.mark.parametrize("code", ["collectives_commended", "individuals_commended"])
def test_commendations_are_the_district_office_s_own_figures(code: str) -> None:
    """Made at the review by the district, so stated in its report text, never summed from communes."""
    demo = tomllib.loads((CATALOGUE.parents[2] / "tongket" / "cli" / "data" / "demo_report.toml").read_text("utf-8"))
    assert demo["narrative"]["figures"][code] == REFERENCE_TOTALS[code] == 22
    assert next(r for r in ROWS if r["code"] == code)["level"] == "report"
    assert all(code not in values for values in FIGURES.values())


def test_stocks_never_fall_in_any_commune() -> None:
    for commune, _ in COMMUNES:
        for code in stocks():
            series = [FIGURES[commune, year][code] for year in YEARS]
            assert series == sorted(series), (commune, code, series)


@pytest.mark.parametrize("code", [c for c in stocks() if REFERENCE_TOTALS[c] >= 5])
def test_2014_is_55_to_75_percent_of_2023(code: str) -> None:
    assert 0.55 <= total(code, 2014) / total(code, 2023) <= 0.75


@pytest.mark.parametrize("code", ["propaganda_sessions", "propaganda_attendance", "tips_to_police", "cases_mediated"])
def test_activity_grows(code: str) -> None:
    series = [total(code, year) for year in YEARS]
    assert series == sorted(series) and 0.5 <= series[0] / series[-1] <= 0.8


def test_attendance_is_40_to_80_per_session() -> None:
    for values in FIGURES.values():
        assert 40 * values["propaganda_sessions"] <= values["propaganda_attendance"]
        assert values["propaganda_attendance"] <= 80 * values["propaganda_sessions"]


def test_street_protection_board_only_in_lien_nghia() -> None:
    for (commune, _), values in FIGURES.items():
        assert values["street_protection_boards"] == (1 if commune == TOWN else 0)


@pytest.mark.parametrize(("members", "teams"), [("patrol_members", "patrol_teams"), ("gong_members", "gong_teams")])
def test_about_eight_members_per_team(members: str, teams: str) -> None:
    for (commune, year), values in FIGURES.items():
        if values[teams]:
            assert 7 <= values[members] / values[teams] <= 9, (commune, year)
        else:
            assert values[members] == 0


def test_larger_communes_have_larger_shares() -> None:
    def share(commune: str) -> int:
        return FIGURES[commune, 2023]["security_teams"] + FIGURES[commune, 2023]["mediation_teams"]

    big = [TOWN, "24967", "24982", "24976"]  # Liên Nghĩa, Hiệp Thạnh, Phú Hội, Tân Hội
    small = [c for c, _ in COMMUNES if c not in big]
    assert min(share(c) for c in big) > max(share(c) for c in small)


def test_deterministic() -> None:
    assert demo_figures() == FIGURES


def test_apportion_is_exact_and_proportional() -> None:
    assert apportion(10, {"a": 1, "b": 1, "c": 1}) == {"a": 4, "b": 3, "c": 3}
    assert apportion(7, {"a": 0, "b": 2, "c": 5}) == {"a": 0, "b": 2, "c": 5}
    shares = apportion(618, {str(i): float(i) for i in range(1, 16)})
    assert sum(shares.values()) == 618
    assert all(abs(shares[str(i)] - 618 * i / 120) < 1 for i in range(1, 16))
    with pytest.raises(ValueError):
        apportion(3, {"a": 0})
