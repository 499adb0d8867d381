"""Small SVG charts, rendered at build time: the preview page needs no script and no network.

Each function takes plain numbers and labels and returns one `<svg>` element as text. All
text is escaped (track, artist and genre names come from Spotify). A chart with nothing
to show says so instead of drawing empty axes.
"""

from __future__ import annotations

from html import escape

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 16, 36
COLORS = ("#1db954", "#3b6fd6", "#e07a1f", "#a23bd6", "#d63b5a", "#2aa5a5", "#7a7a7a", "#c9b21b")


def _svg(name: str, title: str, body: list[str], height: int = HEIGHT) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="{escape(name)}" role="img" '
            f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" font-family="sans-serif" '
            f'font-size="11"><title>{escape(title)}</title>{"".join(body)}</svg>')


def empty(name: str, title: str, why: str = "no data yet") -> str:
    return _svg(name, title, [f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" fill="#777">'
                              f'{escape(why)}</text>'])


def _y_axis(top: float, unit: str = "") -> list[str]:
    parts = []
    for step in range(5):
        value = top * step / 4
        y = HEIGHT - BOTTOM - (HEIGHT - TOP - BOTTOM) * step / 4
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e5e5"/>'
                     f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#555">{value:.2g}{unit}</text>')
    return parts


def _legend(names: list[str]) -> list[str]:
    return [f'<rect x="{LEFT + 8 + i * 150}" y="{TOP}" width="10" height="10" fill="{COLORS[i]}"/>'
            f'<text x="{LEFT + 22 + i * 150}" y="{TOP + 9}">{escape(n)}</text>' for i, n in enumerate(names)]


def hour_chart(name: str, title: str, bars: list[float | None], line: list[float | None],
               bar_label: str, line_label: str) -> str:
    """24 bars (e.g. predicted probability) with a dotted line over them (e.g. observed profile)."""
    values = [v for v in bars + line if v is not None]
    if not values:
        return empty(name, title)
    top = max(max(values), 1e-9)
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = inner_w / 24

    def y(v: float) -> float:
        return HEIGHT - BOTTOM - inner_h * v / top

    body = _y_axis(top)
    for hour, value in enumerate(bars):
        x = LEFT + hour * slot
        if value is not None:
            body.append(f'<rect class="bar" x="{x + 2:.1f}" y="{y(value):.1f}" width="{slot - 4:.1f}" '
                        f'height="{HEIGHT - BOTTOM - y(value):.1f}" fill="{COLORS[0]}"><title>{hour:02d}h: '
                        f'{value:.3f}</title></rect>')
        body.append(f'<text x="{x + slot / 2:.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="middle">{hour}</text>')
    points = [(LEFT + (h + 0.5) * slot, y(v)) for h, v in enumerate(line) if v is not None]
    if points:
        body.append('<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>'.format(
            COLORS[1], " ".join(f"{px:.1f},{py:.1f}" for px, py in points)))
        body += [f'<circle cx="{px:.1f}" cy="{py:.1f}" r="2.5" fill="{COLORS[1]}"/>' for px, py in points]
    body += _legend([bar_label, line_label])
    body.append(f'<text x="{WIDTH / 2}" y="{HEIGHT - 4}" text-anchor="middle" fill="#555">local hour</text>')
    return _svg(name, title, body)


def horizontal_bars(name: str, title: str, rows: list[tuple[str, float]], highlight: str | None = None,
                    maximum: float | None = None, why_empty: str = "no data yet") -> str:
    """One bar per (label, value), largest scale `maximum` (default: the largest value)."""
    if not rows:
        return empty(name, title, why_empty)
    height = TOP + BOTTOM + 24 * len(rows)
    top = maximum or max(max(v for _, v in rows), 1e-9)
    label_w = 170
    inner_w = WIDTH - label_w - RIGHT - 50
    body = []
    for i, (label, value) in enumerate(rows):
        y = TOP + i * 24
        color = COLORS[2] if label == highlight else COLORS[0]
        body.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">{escape(label[:28])}</text>'
                    f'<rect class="bar" x="{label_w}" y="{y + 4}" width="{inner_w * value / top:.1f}" height="16" '
                    f'fill="{color}"/><text x="{label_w + inner_w * value / top + 4:.1f}" y="{y + 15}">'
                    f'{value:.2f}</text>')
    return _svg(name, title, body, height)


def scatter(name: str, title: str, points: list[tuple[str, float, float, float]], x_label: str,
            y_label: str) -> str:
    """Labelled circles at (x, y) in [0, 1] x [0, 1]; the third number sets the circle's area."""
    if not points:
        return empty(name, title)
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    largest = max(p[3] for p in points) or 1
    body = _y_axis(1.0)
    for i, (label, x, y, size) in enumerate(points):
        cx, cy = LEFT + inner_w * x, HEIGHT - BOTTOM - inner_h * y
        radius = 6 + 22 * (size / largest) ** 0.5
        anchor = "end" if x > 0.75 else "start" if x < 0.25 else "middle"
        body.append(f'<circle class="point" cx="{cx:.1f}" cy="{cy:.1f}" r="{radius:.1f}" fill="{COLORS[i % len(COLORS)]}" '
                    f'fill-opacity="0.6"><title>{escape(label)}: {size:g}</title></circle>'
                    f'<text x="{cx:.1f}" y="{cy + 4:.1f}" text-anchor="{anchor}">{escape(label)}</text>')
    body.append(f'<text x="{WIDTH / 2}" y="{HEIGHT - 4}" text-anchor="middle" fill="#555">{escape(x_label)}</text>'
                f'<text x="12" y="{HEIGHT / 2}" transform="rotate(-90 12 {HEIGHT / 2})" text-anchor="middle" '
                f'fill="#555">{escape(y_label)}</text>')
    return _svg(name, title, body)


def lines(name: str, title: str, times: list[float], ticks: list[tuple[float, str]],
          series: dict[str, list[float | None]]) -> str:
    """One line per series; x is a position in time (any unit), values are in [0, 1]."""
    if not times:
        return empty(name, title, "no listening in the last 24 hours of the history")
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    start, span = min(times), (max(times) - min(times)) or 1.0

    def x(t: float) -> float:
        return LEFT + inner_w * (t - start) / span

    body = _y_axis(1.0)
    for i, (label, values) in enumerate(series.items()):
        points = [(x(t), HEIGHT - BOTTOM - inner_h * v) for t, v in zip(times, values) if v is not None]
        body.append('<polyline class="series" fill="none" stroke="{}" stroke-width="2" points="{}"/>'.format(
            COLORS[i], " ".join(f"{px:.1f},{py:.1f}" for px, py in points)))
        body += [f'<circle cx="{px:.1f}" cy="{py:.1f}" r="2" fill="{COLORS[i]}"/>' for px, py in points]
    body += [f'<text x="{x(t):.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="middle">{escape(label)}</text>'
             for t, label in ticks]
    body += _legend(list(series))
    return _svg(name, title, body)
