"""Charts as inline SVG drawn on the server: no JavaScript, no build step, no CDN; prints as it shows.
A chart with nothing to draw (no rows, or every value zero) is a note saying so, not empty axes."""
from decimal import Decimal

from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

WIDTH = 640
BAR_HEIGHT = 22
LABEL_WIDTH = 200


def _num(value):
    return float(value) if isinstance(value, Decimal) else value or 0


def _f(number):
    return f"{number:.1f}"


def no_data(title):
    return format_html('<figure class="chart no-data"><figcaption>{}</figcaption><p>{}</p></figure>', title,
                       _("No data for this region and period."))


def _empty(items):
    return not any(_num(value) for _label, value in items)


def bar_chart(title, items):
    """Horizontal bars: ``items`` is [(label, value)]; each bar carries its value as text."""
    items = list(items)
    if _empty(items):
        return no_data(title)
    top = max((_num(v) for _label, v in items), default=0) or 1
    height = 30 + BAR_HEIGHT * len(items)
    span = WIDTH - LABEL_WIDTH - 80
    bars = format_html_join("", (
        '<text x="{}" y="{}" text-anchor="end" class="label">{}</text>'
        '<rect x="{}" y="{}" width="{}" height="{}" class="bar"><title>{}: {}</title></rect>'
        '<text x="{}" y="{}" class="value">{}</text>'
    ), (
        (LABEL_WIDTH - 6, 30 + i * BAR_HEIGHT + 15, label, LABEL_WIDTH, 30 + i * BAR_HEIGHT + 3,
         _f(span * _num(value) / top), BAR_HEIGHT - 6, label, value, _f(LABEL_WIDTH + span * _num(value) / top + 4),
         30 + i * BAR_HEIGHT + 15, value)
        for i, (label, value) in enumerate(items)
    ))
    return format_html(
        '<svg class="chart" role="img" aria-label="{}" viewBox="0 0 {} {}" width="{}" height="{}" '
        'xmlns="http://www.w3.org/2000/svg"><text x="0" y="16" class="title">{}</text>{}</svg>',
        title, WIDTH, height, WIDTH, height, title, bars)


def column_chart(title, items):
    """Vertical columns over time: ``items`` is [(short label, value)], e.g. one per month."""
    items = list(items)
    if _empty(items):
        return no_data(title)
    top = max((_num(v) for _label, v in items), default=0) or 1
    height, base, plot = 220, 190, 150
    step = (WIDTH - 40) / max(len(items), 1)
    columns = format_html_join("", (
        '<rect x="{}" y="{}" width="{}" height="{}" class="bar"><title>{}: {}</title></rect>'
        '<text x="{}" y="{}" text-anchor="middle" class="label">{}</text>'
        '<text x="{}" y="{}" text-anchor="middle" class="value">{}</text>'
    ), (
        (_f(30 + i * step + step * 0.15), _f(base - plot * _num(v) / top), _f(step * 0.7), _f(plot * _num(v) / top), label,
         v, _f(30 + i * step + step / 2), base + 16, label, _f(30 + i * step + step / 2), _f(base - plot * _num(v) / top - 4),
         v)
        for i, (label, v) in enumerate(items)
    ))
    axis = mark_safe(f'<line x1="30" y1="{base}" x2="{WIDTH - 10}" y2="{base}" class="axis"/>')
    return format_html(
        '<svg class="chart" role="img" aria-label="{}" viewBox="0 0 {} {}" width="{}" height="{}" '
        'xmlns="http://www.w3.org/2000/svg"><text x="0" y="16" class="title">{}</text>{}{}</svg>',
        title, WIDTH, height, WIDTH, height, title, axis, columns)
