"""The notebook display, parsed: the verdict, the SVG of the three levels, the tables."""

from __future__ import annotations

from html.parser import HTMLParser

import vramfit


class Page(HTMLParser):
    """Collects text per element path, tables as rows of cells, and the SVG's elements."""

    def __init__(self):
        super().__init__()
        self.stack = []
        self.tables = {}
        self.table = None
        self.row = None
        self.cell = None
        self.verdict = ""
        self.svg_texts = []
        self.svg_rects = 0
        self.svg_count = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.stack.append((tag, a))
        if tag == "table":
            self.table = a.get("class")
            self.tables[self.table] = []
        elif tag == "tr":
            self.row = []
        elif tag in ("td", "th"):
            self.cell = ""
        elif tag == "svg":
            self.svg_count += 1
        elif tag == "rect" and any(t == "svg" for t, _ in self.stack):
            self.svg_rects += 1

    def handle_endtag(self, tag):
        while self.stack:
            t, _ = self.stack.pop()
            if t == tag:
                break
        if tag in ("td", "th") and self.row is not None:
            self.row.append(self.cell)
            self.cell = None
        elif tag == "tr" and self.table is not None:
            self.tables[self.table].append(self.row)
            self.row = None

    def handle_data(self, data):
        tags = [t for t, _ in self.stack]
        if self.cell is not None:
            self.cell += data
        if tags and tags[-1] == "p" and "vramfit-verdict" in self.stack[-1][1].get("class", ""):
            self.verdict += data
        if "svg" in tags and tags[-1] == "text":
            self.svg_texts.append(data)


def parse(html):
    p = Page()
    p.feed(html)
    p.close()
    return p


def test_estimate_html_has_verdict_levels_and_components():
    r = vramfit.estimate("llama-7b", gpu="T4", dtype="fp32")
    page = parse(r._repr_html_())
    assert page.verdict.startswith("llama-7b: ") and "does not fit T4" in page.verdict
    assert page.svg_count == 1
    assert {"allocated", "reserved", "device"} <= set(page.svg_texts)
    assert any("T4 usable" in t for t in page.svg_texts)
    gpu_parts = [c for c in r.components if c.level != "host" and c.bytes > 0]
    # Each level's bar stacks the components at or below it, plus the legend's swatches.
    order = {"allocated": 0, "reserved": 1, "device": 2}
    stacked = sum(sum(1 for c in gpu_parts if order[c.level] <= lv) for lv in range(3))
    assert page.svg_rects == 1 + stacked + len(gpu_parts)  # background, bars, legend
    rows = page.tables["vramfit-components"]
    assert rows[0] == ["component", "GiB", "GB", "level", "formula", "source"]
    assert [row[0] for row in rows[1:]] == [c.name for c in r.components]
    assert [float(row[1]) for row in rows[1:]] == [round(c.bytes / 2**30, 2) for c in r.components]
    assert [row[4] for row in rows[1:]] == [c.formula for c in r.components]


def test_fitting_verdict_and_no_gpu():
    page = parse(vramfit.estimate("llama-7b", gpu="A100-80GB")._repr_html_())
    assert "fits A100-80GB" in page.verdict and "does not" not in page.verdict
    page = parse(vramfit.estimate("llama-7b")._repr_html_())
    assert page.verdict.startswith("llama-7b: ") and "fit" not in page.verdict
    assert not any("usable" in t for t in page.svg_texts)


def test_fit_html_lists_the_ranked_plans():
    # transformers 4.x loads fp32 without torch_dtype: the seed question, which does not fit.
    plans = vramfit.fit("llama-7b", gpu="T4", runtime_version="4.46")
    page = parse(plans._repr_html_())
    assert "does not fit T4" in page.verdict
    rows = page.tables["vramfit-plans"]
    assert [r[0] for r in rows[1:]] == [str(p.rank) for p in plans]
    assert [r[1] for r in rows[1:]] == [p.flags for p in plans]
    assert rows[1][1] == plans[0].flags
    assert page.tables["vramfit-limits"][0][0] == "max batch"


def test_sweep_html_is_the_cli_chart_and_points():
    s = vramfit.sweep("llama-7b", over="batch", values=[1, 4], gpu="T4")
    page = parse(s._repr_html_())
    assert page.svg_count == 1
    rows = page.tables["vramfit-sweep"]
    assert [r[0] for r in rows[1:]] == ["1", "4"]


def test_repr_is_one_line():
    old = dict(gpu="T4", runtime_version="4.46")
    for obj in (vramfit.estimate("llama-7b", gpu="T4"), vramfit.fit("llama-7b", **old),
                vramfit.fit("llama-7b", **old)[0], vramfit.sweep("llama-7b", over="batch", values=[1])):
        text = repr(obj)
        assert "\n" not in text and text.startswith("<vramfit.")
