"""HTML for notebooks (``_repr_html_``): a verdict line and tables, escaped; the charts are
the SVG the command line writes (``estimate --svg``, ``sweep --svg``)."""

from __future__ import annotations

from html import escape
from typing import Iterable, Optional, Sequence

GIB = float(1 << 30)


def gib(n: Optional[int]) -> str:
    return "–" if n is None else f"{n / GIB:.2f} GiB"


def signed_gib(n: Optional[int]) -> str:
    return "–" if n is None else f"{'-' if n < 0 else ''}{abs(n) / GIB:.2f} GiB"


def verdict(fits: Optional[bool], text: str) -> str:
    color = {True: "#2e7d32", False: "#c62828", None: "#555555"}[fits]
    return f'<p class="vramfit-verdict" style="font-weight:bold;color:{color}">{escape(text)}</p>'


def table(cls: str, head: Sequence[str], rows: Iterable[Sequence[str]], align: str = "") -> str:
    """A table; ``align`` has one letter per column (``r`` right-aligns it)."""
    def cell(tag: str, i: int, v: str) -> str:
        style = ' style="text-align:right"' if i < len(align) and align[i] == "r" else ""
        return f"<{tag}{style}>{escape(v)}</{tag}>"

    out = [f'<table class="{cls}">', "<thead><tr>"]
    out += [cell("th", i, h) for i, h in enumerate(head)]
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>" + "".join(cell("td", i, v) for i, v in enumerate(row)) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def block(*parts: str) -> str:
    return '<div class="vramfit">' + "".join(parts) + "</div>"
