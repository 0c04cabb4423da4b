"""Charts as SVG, drawn by pygal on the server (no script runs in the page; each chart is an image with
a text alternative, and the page shows its table beside it). Pure: figures in, a data: URI out."""
from __future__ import annotations

import base64

import pygal
from pygal.style import Style

# Paul Tol's "muted" scheme: told apart with the common colour-vision deficiencies.
PALETTE = ("#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77", "#CC6677", "#882255", "#AA4499",
           "#DDDDDD", "#000000", "#6699CC", "#EE8866", "#BBCC33", "#77AADD")
STYLE = Style(background="white", plot_background="white", foreground="#111", foreground_strong="#111",
              foreground_subtle="#555", colors=PALETTE, font_family="system-ui, sans-serif", label_font_size=13,
              major_label_font_size=13, legend_font_size=13, title_font_size=16, value_font_size=12)


def _uri(chart: pygal.graph.graph.Graph) -> str:
    svg = chart.render(is_unicode=True)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def _chart(kind, title: str, labels: list[str], **options):  # noqa: ANN001, ANN202
    c = kind(style=STYLE, js=[], disable_xml_declaration=True, width=960, height=480, explicit_size=False,
             x_label_rotation=30, legend_at_bottom=True, legend_at_bottom_columns=4, truncate_legend=-1,
             truncate_label=-1, print_values=False, **options)
    c.title = title
    c.x_labels = labels
    return c


def places_by_area(dist: dict, title: str) -> str:
    """A scenario: places per municipality, stacked by education area."""
    ms = dist["municipalities"]
    areas = sorted({a for m in ms for a in m["by_area"]})
    c = _chart(pygal.StackedBar, title, [m["name"] or m["code"] for m in ms])
    for area in areas:
        c.add(area, [m["by_area"].get(area, 0) or None for m in ms])
    if not areas:
        c.add("", [m["places"] for m in ms])
    return _uri(c)


def side_by_side(rows: list[dict], label_a: str, label_b: str, title: str) -> str:
    """Two scenarios' places per municipality, next to each other."""
    c = _chart(pygal.Bar, title, [r["name"] for r in rows])
    c.add(label_a, [r["a"] for r in rows])
    c.add(label_b, [r["b"] for r in rows])
    return _uri(c)


def shares_by_area(rows: list[dict], series: dict[str, str], title: str) -> str:
    """Per education area, several shares of the county's total (per cent) next to each other."""
    c = _chart(pygal.Bar, title, [r["area"] for r in rows], y_title="%")
    for key, label in series.items():
        c.add(label, [r[key] for r in rows])
    return _uri(c)
