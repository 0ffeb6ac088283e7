"""An estimate: the object ``vramfit estimate --json`` prints, with attributes."""

from __future__ import annotations

import copy
from html import escape
from typing import Any, Dict, Iterator, List, NamedTuple, Optional

from . import _html


class Component(NamedTuple):
    """One named part of an estimate: its bytes, the formula with the numbers put in, where
    the formula comes from, and the lowest level it counts in (``allocated``, ``reserved``,
    ``device``; ``host`` is CPU RAM)."""

    name: str
    bytes: int
    formula: str
    source: str
    level: str


class Result:
    """Peak memory of a workload as a breakdown of named components.

    ``allocated_bytes``, ``reserved_bytes`` and ``total_bytes`` (the device level, what must
    fit) are the three levels people measure: ``torch.cuda.max_memory_allocated``,
    ``max_memory_reserved`` and nvidia-smi. ``fits``, ``headroom_bytes`` and ``gpu`` are
    ``None`` unless a GPU was given. ``result["kv_cache"]`` is a component by name.
    """

    def __init__(self, answer: Dict[str, Any]) -> None:
        self._report: Dict[str, Any] = answer["report"]
        self._table: str = answer["table"]
        self._explain: str = answer["explain"]
        self._svg: str = answer["svg"]
        self.model_dtype: Optional[str] = answer.get("model_dtype")
        r = self._report
        self.model: str = r["model"]
        self.origin: str = r["origin"]
        self.total_bytes: int = r["total_bytes"]
        self.allocated_bytes: int = r["levels"]["allocated"]
        self.reserved_bytes: int = r["levels"]["reserved"]
        self.device_bytes: int = r["levels"]["device"]
        self.host_bytes: int = r["host_bytes"]
        self.peak_phase: str = r["peak_phase"]
        self.notes: List[str] = list(r["notes"])
        self.workload: Dict[str, Any] = r["workload"]
        self.gpu: Optional[Dict[str, Any]] = r.get("gpu")
        self.fits: Optional[bool] = r.get("fits")
        self.headroom_bytes: Optional[int] = r.get("headroom_bytes")
        self.reserve_bytes: Optional[int] = r.get("reserve_bytes")
        self.per_gpu_bytes: Optional[int] = r.get("per_gpu_bytes")
        self.bytes_transferred: int = r["bytes_transferred"]
        # How fast (decode/prefill tokens/s, time to first token, training step, a serving
        # engine's aggregate decode by concurrency), each with its measured error band and its
        # basis; a serving engine's start-up (KV tokens, concurrency, whether it starts); a
        # llama.cpp run's buffers per device. None where the estimate has none.
        self.speed: Optional[Dict[str, Any]] = r.get("speed")
        self.serving: Optional[Dict[str, Any]] = r.get("serving")
        self.devices: Optional[List[Dict[str, Any]]] = r.get("devices")
        self.components: List[Component] = [
            Component(c["name"], c["bytes"], c["formula"], c["source"], c["level"]) for c in r["components"]
        ]

    def __getitem__(self, name: str) -> Component:
        for c in self.components:
            if c.name == name:
                return c
        raise KeyError(f"{name!r}: no such component; this estimate has {', '.join(self.keys())}")

    def __contains__(self, name: object) -> bool:
        return any(c.name == name for c in self.components)

    def __iter__(self) -> Iterator[Component]:
        return iter(self.components)

    def __len__(self) -> int:
        return len(self.components)

    def keys(self) -> List[str]:
        """The component names, in the order of the breakdown."""
        return [c.name for c in self.components]

    def to_dict(self) -> Dict[str, Any]:
        """The object ``vramfit estimate --json`` prints for the same workload (a copy)."""
        return copy.deepcopy(self._report)

    def explain(self) -> str:
        """The table ``vramfit estimate --explain`` prints: each component's formula with the
        numbers put in, and its source."""
        return self._explain

    def to_svg(self) -> str:
        """The chart ``vramfit estimate --svg`` writes: the three levels as stacked bars."""
        return self._svg

    def verdict(self) -> str:
        """One line: the device total, and whether it fits the GPUs given."""
        total = f"{self.model}: {_html.gib(self.total_bytes)} peak ({self.peak_phase})"
        if self.gpu is None:
            return total
        per_gpu = "" if self.gpu["count"] == 1 else " per GPU"
        where = f"{self.gpu['label']} ({_html.gib(self.gpu['usable_bytes'])} usable{per_gpu})"
        if self.fits:
            return f"{total}: fits {where}, {_html.signed_gib(self.headroom_bytes)} headroom"
        return f"{total}: does not fit {where}, {_html.signed_gib(self.headroom_bytes)} headroom"

    def __str__(self) -> str:
        return self._table

    def __repr__(self) -> str:
        return f"<vramfit.Result {self.verdict()}>"

    def _repr_html_(self) -> str:
        rows = [
            (c.name, f"{c.bytes / _html.GIB:.2f}", f"{c.bytes / 1e9:.2f}", c.level, c.formula, c.source)
            for c in self.components
        ]
        notes = "".join(f"<li>{escape(n)}</li>" for n in self.notes)
        return _html.block(
            _html.verdict(self.fits, self.verdict()),
            self._svg,
            _html.table("vramfit-components", ("component", "GiB", "GB", "level", "formula", "source"), rows, "_rr"),
            f'<ul class="vramfit-notes">{notes}</ul>' if notes else "",
        )
