"""The review's charts: pygal bar charts made inert and self-contained.

pygal draws well-spaced, print-friendly SVG on the server. Left alone it also writes a
<script> holding its configuration and credits comments with web addresses; the review
is read in browsers under our CSP and as a file with no network, so both are stripped.
Every chart stands beside a table of the same figures (readable without colour).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import pygal
from markupsafe import Markup
from pygal.style import Style

# pygal appends an import hook to sys.meta_path for its map plugins (pygal.maps.*), which
# the review does not use. The hook predates find_spec, so every import that falls through
# to it raises an ImportWarning: an error under the test suite's warnings-as-errors.
sys.meta_path[:] = [finder for finder in sys.meta_path
                    if not isinstance(finder, pygal.PluginImportFixer)]

# Dark and light of one hue: told apart in colour, in grey print and by the legend's order.
PRINTABLE = Style(
    background="transparent",
    plot_background="transparent",
    foreground="#1a1a1a",
    foreground_strong="#1a1a1a",
    foreground_subtle="#6b6b6b",
    colors=("#1f4e79", "#9dbcd9"),
    font_family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    label_font_size=13,
    major_label_font_size=13,
    legend_font_size=14,
    value_font_size=12,
    title_font_size=16,
    opacity="1",  # solid bars: pale see-through ones fade away on paper
    opacity_hover="1",
)


def _inert(label: str, nonce: str | None):
    """An xml filter: no script, no tooltip, no comments, a name for assistive technology, and the
    nonce our CSP asks of an inline style."""

    def apply(root):
        for node in list(root.iter()):
            parent = node.getparent() if hasattr(node, "getparent") else None
            comment = not isinstance(node.tag, str)
            # The tooltip is hidden by a style attribute for pygal's script to show.
            tooltip = not comment and "tooltip" in (node.get("class") or "").split()
            script = not comment and node.tag.rpartition("}")[2] == "script"
            if parent is not None and (comment or tooltip or script):
                parent.remove(node)
        root.set("role", "img")
        root.set("aria-label", label)
        root.set("focusable", "false")
        if nonce:
            for style in root.iter("{*}style", "style"):
                style.set("nonce", nonce)
        return root

    return apply


def bar_chart(label: str, categories: Sequence[str],
              series: Sequence[tuple[str, Sequence[float | None]]],
              nonce: str | None = None, percent: bool = False) -> Markup:
    """A horizontal bar chart as inline SVG; `label` names it for screen readers."""
    chart = pygal.HorizontalBar(
        js=[], disable_xml_declaration=True, no_prefix=False, show_legend=True,
        legend_at_bottom=True, legend_at_bottom_columns=len(series), print_values=False,
        width=820, height=max(220, 70 + 44 * len(categories)), style=PRINTABLE,
        truncate_label=40, margin=8, explicit_size=False, tooltip_border_radius=0,
        value_formatter=(lambda v: f"{v:.0%}") if percent else (lambda v: f"{v:,.0f}"),
        range=(0, 1) if percent else None, include_x_axis=True)
    # pygal stacks a horizontal chart's categories from the bottom up: reversed, they read
    # top to bottom in the order of the table beside the chart.
    chart.x_labels = list(reversed(categories))
    for name, values in series:
        chart.add(name, list(reversed(values)))
    chart.add_xml_filter(_inert(label, nonce))
    # pygal builds the SVG as an element tree: labels and titles (item names, words people
    # typed) are serialised as escaped text, and the filter above removed every script.
    return Markup(chart.render(is_unicode=True))  # noqa: S704
