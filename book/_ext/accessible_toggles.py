"""Sphinx extension: a hidden code cell's toggle whose accessible name is the text it shows.

myst-nb draws a cell tagged ``hide-input`` as ``<details><summary aria-label="Toggle hidden content">`` around the
visible words "Show code cell source". A screen reader then announces a name that a sighted user of speech input
cannot say (axe-core: label-content-name-mismatch, serious). This writes the same markup without the aria-label,
so the name is the visible text ("Show code cell source" / "Hide code cell source").
"""
from __future__ import annotations

from html import escape


def visit_hide_input(self, node):
    classes = " ".join(node["classes"])
    self.body.append(f'<details class="admonition hide {classes}">\n<summary>\n')
    self.body.append(f'<p class="collapsed admonition-title">{escape(node["prompt_show"])}</p>\n')
    self.body.append(f'<p class="expanded admonition-title">{escape(node["prompt_hide"])}</p>\n')
    self.body.append("</summary>\n")


def depart_hide_input(self, node):
    self.body.append("</details>\n")


def setup(app):
    from myst_nb.sphinx_ import HideCodeCellNode

    app.add_node(HideCodeCellNode, override=True, html=(visit_hide_input, depart_hide_input))
    return {"parallel_read_safe": True, "parallel_write_safe": True}
