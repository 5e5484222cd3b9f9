"""The report and the roster as HTML: one self-contained file each, to be mailed or opened offline.

Inline CSS, inline SVG for the chart, a few lines of inline JavaScript to sort the accounts table
(the sort is kept in the address, ``#sort=posts-desc``, so a link opens the table sorted). Nothing
is fetched from a network. Every number in the chart is also in a table as text.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime

from jinja2 import Environment, PackageLoader, select_autoescape

from publisher.reports.report import KPIS, AccountLine, Report

COLOURS = ("#1b6ca8", "#d1495b", "#2e933c", "#edae49", "#6a4c93", "#00798c", "#8d6a9f",
           "#e07a5f", "#3d405b", "#81b29a")  # fmt: skip
WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 760, 260, 40, 40, 12

TEMPLATES = Environment(
    loader=PackageLoader("publisher.reports", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def colour(n: int) -> str:
    return COLOURS[n % len(COLOURS)]


def render_report(report: Report, silent_days: float) -> str:
    """The report as one HTML page; accounts with no post for ``silent_days`` are highlighted."""

    def local(when: datetime) -> str:
        return when.astimezone(report.zone).strftime("%Y-%m-%d %H:%M")

    return TEMPLATES.get_template("report.html.j2").render(
        r=report,
        chart=chart(report),
        colours=[colour(n) for n in range(len(report.units))],
        kpi_names=KPIS,
        silent_days=silent_days,
        local=local,
        counts=_counts,
        num=_num,
        raw=_raw,
        percent=_percent,
    )


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    day: date
    posts: int


@dataclass(frozen=True)
class Chart:
    """Posts per day per unit laid out for an inline SVG; the template draws it, escaped."""

    width: int
    height: int
    left: int
    top: int
    base: float  # the y of zero posts
    ticks: list[tuple[float, int]]  # (y, posts)
    labels: list[tuple[float, str]]  # (x, day)
    series: list[tuple[str, str, list[Point]]]  # (unit, colour, points)


def chart(report: Report) -> Chart:
    days = report.days
    most = max([u.per_day[d] for u in report.units for d in days] + [1])
    plot_w, plot_h = WIDTH - LEFT - 30, HEIGHT - BOTTOM - TOP  # room for the last label
    step = plot_w / max(len(days) - 1, 1)

    def x(i: int) -> float:
        return round(LEFT + i * step, 1)

    def y(n: int) -> float:
        return round(TOP + plot_h - n * plot_h / most, 1)

    label_every = max(1, len(days) // 10)
    return Chart(
        WIDTH,
        HEIGHT,
        LEFT,
        TOP,
        y(0),
        [(y(n), n) for n in sorted({0, most // 2, most})],
        [(x(i), f"{d:%d %b}") for i, d in enumerate(days) if i % label_every == 0],
        [
            (
                u.unit,
                colour(n),
                [Point(x(i), y(u.per_day[d]), d, u.per_day[d]) for i, d in enumerate(days)],
            )
            for n, u in enumerate(report.units)
        ],
    )


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{key} {n}" for key, n in sorted(counter.items())) or "-"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def _raw(value: float | None) -> str:
    return "" if value is None else str(value)


def _percent(account: AccountLine) -> float | None:
    if not account.tag_checked:
        return None
    return round(100 * account.tag_compliant / account.tag_checked, 1)
