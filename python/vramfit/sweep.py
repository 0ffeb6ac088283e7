"""A sweep: the object ``vramfit sweep --json`` prints, with the chart ``--svg`` writes."""

from __future__ import annotations

import copy
from typing import Any, Dict, Iterator, List, NamedTuple, Optional

from . import _html


class Point(NamedTuple):
    """One value of the swept setting: the three levels, the verdict with a GPU, or the error
    that value gives (then the byte counts are ``None``)."""

    value: int
    total_bytes: Optional[int]
    allocated_bytes: Optional[int]
    reserved_bytes: Optional[int]
    fits: Optional[bool]
    headroom_bytes: Optional[int]
    components: Dict[str, int]
    error: Optional[str]


class Sweep:
    """One workload over a range of batch sizes or lengths (``points``)."""

    def __init__(self, answer: Dict[str, Any]) -> None:
        r = answer["report"]
        self._report: Dict[str, Any] = r
        self._svg: str = answer["svg"]
        self.model: str = r["model"]
        self.over: str = r["over"]
        self.axis_label: str = r["axis_label"]
        self.gpu: Optional[Dict[str, Any]] = r.get("gpu")
        self.points: List[Point] = []
        for p in r["points"]:
            levels = p.get("levels") or {}
            parts: Dict[str, int] = {}
            for c in p.get("components", []):
                parts[c["name"]] = parts.get(c["name"], 0) + c["bytes"]
            self.points.append(
                Point(
                    p["value"],
                    p.get("total_bytes"),
                    levels.get("allocated"),
                    levels.get("reserved"),
                    p.get("fits"),
                    p.get("headroom_bytes"),
                    parts,
                    p.get("error"),
                )
            )

    def __iter__(self) -> Iterator[Point]:
        return iter(self.points)

    def __len__(self) -> int:
        return len(self.points)

    def to_dict(self) -> Dict[str, Any]:
        """The object ``vramfit sweep --json`` prints for the same workload (a copy)."""
        return copy.deepcopy(self._report)

    def to_svg(self) -> str:
        """The chart ``vramfit sweep --svg`` writes."""
        return self._svg

    def __repr__(self) -> str:
        values = ", ".join(str(p.value) for p in self.points)
        return f"<vramfit.Sweep {self.model} over {self.axis_label}: {values}>"

    def _repr_html_(self) -> str:
        rows = [
            (
                str(p.value),
                p.error or f"{(p.total_bytes or 0) / _html.GIB:.2f}",
                "" if p.fits is None else ("fits" if p.fits else "does not fit"),
            )
            for p in self.points
        ]
        return _html.block(
            self._svg, _html.table("vramfit-sweep", (self.axis_label, "device GiB", "verdict"), rows, "rr")
        )
