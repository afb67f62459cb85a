"""The Đức Trọng demo: ten years (2014–2023) of made-up but plausible figures for the district's 15 communes.

The figures are invented; only their 2023 district totals are real (those stated at the district's 10-year
review, see FACTS.md), and the demo must reproduce them exactly. Everything here is pure and deterministic:
the only randomness comes from generators seeded with fixed strings.

How the figures are made:
- stocks: each 2023 district total is split over the communes by size (largest remainder). Earlier years
  are built from a district total that grows from ~55–75% in 2014 to 100% in 2023; each commune's teams
  get an order of founding, and a year has the first N of them, so every commune's count never falls.
- members (patrol, gong duty) follow their teams, about 8 per team.
- flows grow over the years. The commendations (22 collectives, 22 individuals) were made by the district at
  its review: they are the office's own figures (demo_report.toml), not commune figures.
"""

from __future__ import annotations

import math
import random
from collections.abc import Hashable, Mapping
from typing import TypeVar

K = TypeVar("K", bound=Hashable)

DISTRICT = ("678", "Huyện Đức Trọng")
PROVINCE = ("68", "Tỉnh Lâm Đồng")
COMMUNES: tuple[tuple[str, str], ...] = (
    ("24958", "Thị trấn Liên Nghĩa"),
    ("24961", "Xã Hiệp An"),
    ("24964", "Xã Liên Hiệp"),
    ("24967", "Xã Hiệp Thạnh"),
    ("24970", "Xã Bình Thạnh"),
    ("24973", "Xã N'Thol Hạ"),
    ("24976", "Xã Tân Hội"),
    ("24979", "Xã Tân Thành"),
    ("24982", "Xã Phú Hội"),
    ("24985", "Xã Ninh Gia"),
    ("24988", "Xã Tà Năng"),
    ("24989", "Xã Đa Quyn"),
    ("24991", "Xã Tà Hine"),
    ("24994", "Xã Đà Loan"),
    ("24997", "Xã Ninh Loan"),
)
YEARS = range(2014, 2024)
REFERENCE_TOTALS: dict[str, int] = {
    "security_teams": 618,
    "patrol_teams": 107,
    "patrol_members": 858,
    "mediation_teams": 205,
    "civil_defence_teams": 27,
    "residence_points": 125,
    "street_protection_boards": 1,
    "crime_free_clubs": 127,
    "youth_clubs": 9,
    "farmer_law_clubs": 10,
    "gong_teams": 68,
    "gong_members": 545,
    "tasks_set": 7,
    "collectives_commended": 22,
    "individuals_commended": 22,
}

TOWN = "24958"  # Thị trấn Liên Nghĩa, the district seat
HIGHLAND = ("24988", "24989", "24991", "24994", "24997")  # Tà Năng, Đa Quyn, Tà Hine, Đà Loan, Ninh Loan
INDUSTRIAL = "24982"  # Phú Hội, with the district's industrial park (many temporary residents)

# Relative size of each commune (roughly its population in thousands, the town damped).
SIZES: dict[str, float] = {
    "24958": 30,
    "24961": 14,
    "24964": 12,
    "24967": 22,
    "24970": 8,
    "24973": 9,
    "24976": 17,
    "24979": 9,
    "24982": 20,
    "24985": 10,
    "24988": 7,
    "24989": 5,
    "24991": 6,
    "24994": 11,
    "24997": 7,
}

# Teams and clubs apportioned from their 2023 totals, in catalogue order; members follow their teams.
TEAM_STOCKS = (
    "security_teams",
    "patrol_teams",
    "mediation_teams",
    "civil_defence_teams",
    "residence_points",
    "street_protection_boards",
    "crime_free_clubs",
    "youth_clubs",
    "farmer_law_clubs",
    "gong_teams",
)
MEMBER_STOCKS = {"patrol_members": "patrol_teams", "gong_members": "gong_teams"}
STOCKS = (
    "security_teams",
    "patrol_teams",
    "patrol_members",
    "mediation_teams",
    "civil_defence_teams",
    "residence_points",
    "street_protection_boards",
    "crime_free_clubs",
    "youth_clubs",
    "farmer_law_clubs",
    "gong_teams",
    "gong_members",
)
FLOWS = (
    "propaganda_sessions",
    "propaganda_attendance",
    "tips_to_police",
    "cases_mediated",
)

# Where an indicator leans away from plain size: multipliers per commune.
LEANINGS: dict[str, dict[str, float]] = {
    "civil_defence_teams": {TOWN: 3.0, INDUSTRIAL: 1.5},
    "residence_points": {INDUSTRIAL: 2.5, TOWN: 1.5},
    "crime_free_clubs": {TOWN: 2.0},
    "farmer_law_clubs": {TOWN: 0.2},
    "gong_teams": {TOWN: 0.3, **{code: 1.8 for code in HIGHLAND}},
}


def demo_figures() -> dict[tuple[str, int], dict[str, int]]:
    """(commune code, year) -> indicator code -> value, for every commune-level indicator of 2014..2023."""
    stocks = {code: _stock_series(code) for code in TEAM_STOCKS}
    for members, teams in MEMBER_STOCKS.items():
        stocks[members] = _member_series(members, stocks[teams])
    flows = _flow_series(stocks["mediation_teams"])
    figures: dict[tuple[str, int], dict[str, int]] = {}
    for commune, _ in COMMUNES:
        for year in YEARS:
            row = {code: stocks[code][commune, year] for code in STOCKS}
            row.update({code: flows[code][commune, year] for code in FLOWS})
            figures[commune, year] = row
    return figures


def apportion(total: int, weights: Mapping[K, float]) -> dict[K, int]:
    """Split a whole total in proportion to weights, exactly (largest remainder; ties go to the first key)."""
    weight_sum = sum(weights.values())
    if total < 0 or weight_sum <= 0 or any(w < 0 for w in weights.values()):
        raise ValueError("apportion needs a total >= 0 and non-negative weights with a positive sum")
    quotas = {key: total * w / weight_sum for key, w in weights.items()}
    shares = {key: math.floor(q) for key, q in quotas.items()}
    order = list(weights)
    by_remainder = sorted(
        (k for k in order if weights[k] > 0), key=lambda k: (-(quotas[k] - shares[k]), order.index(k))
    )
    for key in by_remainder[: total - sum(shares.values())]:
        shares[key] += 1
    return shares


# ---- stocks


def _weights(indicator: str) -> dict[str, float]:
    if indicator == "street_protection_boards":  # a town has street protection boards; communes do not
        return {code: 1.0 if code == TOWN else 0.0 for code, _ in COMMUNES}
    lean = LEANINGS.get(indicator, {})
    return {code: SIZES[code] * lean.get(code, 1.0) for code, _ in COMMUNES}


def _stock_series(indicator: str) -> dict[tuple[str, int], int]:
    """A team/club count per (commune, year): non-decreasing, exact 2023 totals."""
    final = apportion(REFERENCE_TOTALS[indicator], _weights(indicator))
    order = _founding_order(indicator, final)
    series = {}
    for year, total in _district_totals(indicator).items():
        existing = order[:total]
        for commune, _ in COMMUNES:
            series[commune, year] = sum(1 for c in existing if c == commune)
    return series


def _district_totals(indicator: str) -> dict[int, int]:
    """The district total per year: ~55–75% of 2023's in 2014, rising to it."""
    final = REFERENCE_TOTALS[indicator]
    start = round(final * _rng(indicator, "start").uniform(0.58, 0.72))
    span = YEARS[-1] - YEARS[0]
    # A slightly concave path: the movement grew faster in its first years.
    return {year: round(start + (final - start) * ((year - YEARS[0]) / span) ** 0.85) for year in YEARS}


def _founding_order(indicator: str, final: Mapping[str, int]) -> list[str]:
    """Every 2023 team as its commune's code, oldest first; a year has the first N teams of the district."""
    keyed = []
    for commune, count in final.items():
        # gamma > 1: the commune had most of its teams early; < 1: it built them up late.
        gamma = _rng(indicator, commune, "gamma").uniform(0.8, 1.25)
        keyed += [(((k + 0.5) / count) ** gamma, commune, k) for k in range(count)]
    return [commune for _, commune, _ in sorted(keyed)]


def _member_series(indicator: str, teams: Mapping[tuple[str, int], int]) -> dict[tuple[str, int], int]:
    """Members follow their teams (~8 per team), with exact 2023 totals."""
    last = YEARS[-1]
    final = apportion(REFERENCE_TOTALS[indicator], {c: float(teams[c, last]) for c, _ in COMMUNES})
    return {
        (c, y): round(final[c] * teams[c, y] / teams[c, last]) if teams[c, last] else 0
        for c, _ in COMMUNES
        for y in YEARS
    }


# ---- flows


def _growth(year: int) -> float:
    """Activity in a year relative to 2023: 60% in 2014, rising linearly."""
    return 0.6 + 0.4 * (year - YEARS[0]) / (YEARS[-1] - YEARS[0])


def _flow_series(mediation_teams: Mapping[tuple[str, int], int]) -> dict[str, dict[tuple[str, int], int]]:
    flows: dict[str, dict[tuple[str, int], int]] = {code: {} for code in FLOWS}
    for commune, _ in COMMUNES:
        # Each commune has its own habits (hall size, how busy its mediators are); years vary a little.
        habits = _rng("flows", commune)
        attendance, mediated = habits.randint(48, 70), habits.uniform(0.6, 1.0)
        for year in YEARS:
            rng = _rng("flows", commune, str(year))
            sessions = round((6 + 1.2 * SIZES[commune]) * _growth(year) * rng.uniform(0.95, 1.05))
            flows["propaganda_sessions"][commune, year] = sessions
            flows["propaganda_attendance"][commune, year] = sessions * (attendance + rng.randint(-5, 5))
            flows["tips_to_police"][commune, year] = round(
                (3 + 0.8 * SIZES[commune]) * _growth(year) * rng.uniform(0.93, 1.07)
            )
            flows["cases_mediated"][commune, year] = round(
                mediation_teams[commune, year] * mediated * rng.uniform(0.95, 1.05)
            )
    return flows


def _rng(*parts: str) -> random.Random:
    # A string seed is hashed with SHA-512: the same on every run and machine, whatever PYTHONHASHSEED.
    return random.Random(":".join(("tongket-demo", *parts)))
