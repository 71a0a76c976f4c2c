"""The admin's chart of how people answer AI avatars: accept, decline and
regenerate rates per style and per platform over time, as inline SVG geometry
(no script, no CDN). Days are buckets up to a month; longer periods use weeks."""

import datetime
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import QuerySet

from generation.offers import ANSWERS, offer_counts

WIDTH, HEIGHT = 520, 190
LEFT, RIGHT, TOP, BOTTOM = 44, 26, 10, 26
MAX_DAILY_BUCKETS = 31
X_LABELS = 6


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    title: str


@dataclass(frozen=True)
class Line:
    outcome: str
    path: str
    points: list[Point]


@dataclass(frozen=True)
class Panel:
    name: str
    totals: dict
    lines: list[Line]


@dataclass(frozen=True)
class Axis:
    position: float
    label: str


@dataclass(frozen=True)
class RateChart:
    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_top: int
    plot_bottom: int
    weekly: bool
    x_axis: list[Axis]
    y_axis: list[Axis]
    totals: dict
    by_style: list[Panel]
    by_platform: list[Panel]


def bucket_starts(first: datetime.date, last: datetime.date) -> list[datetime.date]:
    """The buckets from `first` to `last`: days, or weeks (from Mondays) past a month."""
    if (last - first).days < MAX_DAILY_BUCKETS:
        return [first + datetime.timedelta(days=n) for n in range((last - first).days + 1)]
    monday = first - datetime.timedelta(days=first.weekday())
    return [monday + datetime.timedelta(weeks=n) for n in range((last - monday).days // 7 + 1)]


def _weekly(starts: list[datetime.date]) -> bool:
    return len(starts) > 1 and (starts[1] - starts[0]).days == 7


def _bucket_of(day: datetime.date, starts: list[datetime.date]) -> int:
    return (day - starts[0]).days // (7 if _weekly(starts) else 1)


def _x(index: int, count: int) -> float:
    span = WIDTH - LEFT - RIGHT
    return LEFT + (span * index / (count - 1) if count > 1 else span / 2)


def _y(rate: float) -> float:
    return TOP + (1 - rate) * (HEIGHT - TOP - BOTTOM)


def _line(outcome: str, buckets: list[dict], starts: list[datetime.date]) -> Line:
    """One answer's rate across the buckets; a bucket without offers is a gap."""
    points, path, pen_down = [], [], False
    for index, (start, counts) in enumerate(zip(starts, buckets, strict=True)):
        if not counts["offered"]:
            pen_down = False
            continue
        rate = counts[outcome] / counts["offered"]
        x, y = round(_x(index, len(starts)), 1), round(_y(rate), 1)
        path.append(f"{'L' if pen_down else 'M'}{x} {y}")
        pen_down = True
        when = f"week of {start:%d %b}" if _weekly(starts) else f"{start:%d %b}"
        title = f"{when}: {rate:.0%} {outcome} of {counts['offered']} offered"
        points.append(Point(x, y, title))
    return Line(outcome, " ".join(path), points)


def _panels(offers: QuerySet, group: str, starts: list[datetime.date]) -> list[Panel]:
    series: dict[str, list[dict]] = defaultdict(
        lambda: [dict.fromkeys(("offered", *ANSWERS), 0) for _ in starts]
    )
    for row in offer_counts(offers, [group, "day"]):
        bucket = series[row[group]][_bucket_of(row["day"], starts)]
        for key in bucket:
            bucket[key] += row[key]
    totals = {row[group]: row for row in offer_counts(offers, [group])}
    return [
        Panel(name or "(none)", totals[name], [_line(o, buckets, starts) for o in ANSWERS])
        for name, buckets in sorted(series.items())
    ]


def rate_chart(offers: QuerySet, first: datetime.date, last: datetime.date) -> RateChart:
    """The chart of `offers` (made between the days `first` and `last`)."""
    starts = bucket_starts(first, last)
    step = max(1, round(len(starts) / X_LABELS))
    x_axis = [
        Axis(round(_x(i, len(starts)), 1), f"{start:%d %b}")
        for i, start in enumerate(starts)
        if i % step == 0
    ]
    y_axis = [Axis(round(_y(rate), 1), f"{rate:.0%}") for rate in (0, 0.25, 0.5, 0.75, 1)]
    return RateChart(
        width=WIDTH,
        height=HEIGHT,
        plot_left=LEFT,
        plot_right=WIDTH - RIGHT,
        plot_top=TOP,
        plot_bottom=HEIGHT - BOTTOM,
        weekly=_weekly(starts),
        x_axis=x_axis,
        y_axis=y_axis,
        totals=offer_counts(offers)[0],
        by_style=_panels(offers, "style", starts),
        by_platform=_panels(offers, "platform", starts),
    )
