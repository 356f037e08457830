"""The reports' charts as inline SVG, drawn on the server: no JavaScript, nothing from elsewhere.

Each chart names itself to a screen reader (role="img", aria-labelledby a <title> and a <desc>
saying what it shows in words) and has its data table beside it on the page. Colour never
carries meaning alone: every bar has its number written on it or beside it, the two series of
the month chart differ in pattern as well as shade, and the weekday grid prints each count.
The look is in static/css/reports.css (the Content Security Policy forbids inline styles); the
drawings scale with the page, so they stay readable at 200 % zoom.
"""

from __future__ import annotations

from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from .models import Weekday


def _frame(slug: str, width: int, height: int, title: str, desc: str, body: str) -> SafeString:
    return format_html(
        '<svg class="report-chart" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" '
        'aria-labelledby="{s}-title {s}-desc" xmlns="http://www.w3.org/2000/svg">'
        '<title id="{s}-title">{title}</title><desc id="{s}-desc">{desc}</desc>{body}</svg>',
        w=width,
        h=height,
        s=slug,
        title=title,
        desc=desc,
        body=mark_safe(body),  # noqa: S308 - built below from format_html pieces only
    )


def month_trend(months: list[dict]) -> SafeString:
    """Two bars a month: sessions booked (hatched) and attended (solid), numbers on top."""
    slug = "chart-months"
    count = max(len(months), 1)
    slot = 88
    left, top, bottom = 16, 44, 40
    width = max(left * 2 + slot * count, 320)
    plot = 180
    most = max([m["booked"] for m in months] + [1])
    pieces = [
        format_html(
            '<defs><pattern id="{s}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
            'patternTransform="rotate(45)"><rect width="6" height="6" class="hatch-ground"/>'
            '<line x1="0" y1="0" x2="0" y2="6" class="hatch-line" stroke-width="3"/>'
            "</pattern></defs>",
            s=slug,
        ),
        # The legend: a swatch of each pattern with its name.
        format_html(
            '<rect x="{x}" y="8" width="16" height="16" fill="url(#{s}-hatch)" class="bar-edge"/>'
            '<text x="{tx}" y="21" class="chart-text">{booked}</text>'
            '<rect x="{x2}" y="8" width="16" height="16" class="bar-solid"/>'
            '<text x="{tx2}" y="21" class="chart-text">{attended}</text>',
            x=left,
            tx=left + 22,
            s=slug,
            booked=_("Sessions booked"),
            x2=left + 150,
            tx2=left + 172,
            attended=_("Attended"),
        ),
    ]
    base = top + plot
    for i, month in enumerate(months):
        x = left + i * slot + 12
        for offset, value, fill in (
            (0, month["booked"], f'fill="url(#{slug}-hatch)" class="bar-edge"'),
            (32, month["attended"], 'class="bar-solid"'),
        ):
            height = round(plot * value / most)
            pieces.append(
                format_html(
                    '<rect x="{x}" y="{y}" width="30" height="{h}" {fill}/>'
                    '<text x="{cx}" y="{ty}" text-anchor="middle" class="chart-value">{v}</text>',
                    x=x + offset,
                    y=base - height,
                    h=height,
                    fill=mark_safe(fill),  # noqa: S308 - a constant above
                    cx=x + offset + 15,
                    ty=base - height - 4,
                    v=value,
                )
            )
        pieces.append(
            format_html(
                '<text x="{cx}" y="{y}" text-anchor="middle" class="chart-text">{label}</text>',
                cx=x + 31,
                y=base + 22,
                label=date_format(month["month"], "M Y"),
            )
        )
    pieces.append(
        format_html(
            '<line x1="{l}" y1="{b}" x2="{r}" y2="{b}" class="chart-axis"/>',
            l=left,
            r=width - left,
            b=base,
        )
    )
    busiest = max(months, key=lambda m: m["booked"], default=None)
    desc = _("Sessions booked and attended in each month of the report.")
    if busiest and busiest["booked"]:
        desc += " " + _("The busiest month was %(month)s, with %(n)d sessions booked.") % {
            "month": date_format(busiest["month"], "F Y"),
            "n": busiest["booked"],
        }
    return _frame(
        slug, width, base + bottom, _("Sessions by month"), desc, "".join(map(str, pieces))
    )


def topic_bars(topics: list[dict]) -> SafeString:
    """One horizontal bar per topic for people helped, its name above and its number beside."""
    slug = "chart-topics"
    row, width, left = 52, 640, 8
    bar_room = width - 2 * left - 60
    most = max([t["people_helped"] for t in topics] + [1])
    pieces = []
    for i, topic in enumerate(topics):
        y = i * row + 8
        length = max(round(bar_room * topic["people_helped"] / most), 1)
        pieces.append(
            format_html(
                '<text x="{l}" y="{ty}" class="chart-text">{name}</text>'
                '<rect x="{l}" y="{by}" width="{w}" height="20" class="bar-solid"/>'
                '<text x="{nx}" y="{ny}" class="chart-text chart-number">{n}</text>',
                l=left,
                ty=y + 14,
                name=topic["name"],
                by=y + 20,
                w=length,
                nx=left + length + 6,
                ny=y + 36,
                n=topic["people_helped"],
            )
        )
    desc = _("People helped with each topic, in sessions attended and walk-ins.")
    if topics:
        desc += " " + _("Most: %(topic)s, %(n)d people.") % {
            "topic": topics[0]["name"],
            "n": topics[0]["people_helped"],
        }
    height = max(len(topics), 1) * row + 8
    return _frame(slug, width, height, _("People helped by topic"), desc, "".join(map(str, pieces)))


def weekday_grid(grid: dict) -> SafeString:
    """A square per weekday and hour, darker the busier, each with its count written in it."""
    slug = "chart-grid"
    cell, left, top = 44, 108, 28
    hours = grid["hours"]
    most = grid["most"] or 1
    pieces = [
        format_html_join(
            "",
            '<text x="{}" y="{}" text-anchor="middle" class="chart-text">{}</text>',
            ((left + j * cell + cell // 2, top - 8, f"{hour:02d}") for j, hour in enumerate(hours)),
        )
    ]
    for day in range(7):
        y = top + day * cell
        pieces.append(
            format_html(
                '<text x="{x}" y="{y}" text-anchor="end" class="chart-text">{name}</text>',
                x=left - 8,
                y=y + cell // 2 + 6,
                name=Weekday(day).label,
            )
        )
        for j, hour in enumerate(hours):
            n = grid["cells"].get((day, hour), 0)
            level = 0 if not n else 1 + min(3, (4 * n - 1) // most)
            pieces.append(
                format_html(
                    '<rect x="{x}" y="{y}" width="{c}" height="{c}" class="grid-cell level-{lv}"/>'
                    '<text x="{cx}" y="{cy}" text-anchor="middle" class="grid-text level-{lv}">'
                    "{n}</text>",
                    x=left + j * cell,
                    y=y,
                    c=cell - 2,
                    lv=level,
                    cx=left + j * cell + cell // 2 - 1,
                    cy=y + cell // 2 + 5,
                    n=n or "",
                )
            )
    by_weekday = grid["by_weekday"]
    busiest_day = max(by_weekday, key=by_weekday.get)
    desc = _("Sessions and walk-ins by weekday and hour, with the count in each square.")
    if grid["most"]:
        busiest_hour = max(grid["by_hour"], key=grid["by_hour"].get)
        desc += " " + _("Busiest day: %(day)s. Busiest hour: %(hour)s.") % {
            "day": Weekday(busiest_day).label,
            "hour": f"{busiest_hour:02d}:00",
        }
    width = left + len(hours) * cell + 8
    return _frame(
        slug,
        width,
        top + 7 * cell + 8,
        _("Busiest weekdays and hours"),
        desc,
        "".join(map(str, pieces)),
    )
