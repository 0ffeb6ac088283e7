"""A fit: the object ``vramfit fit --json`` prints — the verdict as asked, the ranked plans
that make the workload fit, and the limits of batch and context."""

from __future__ import annotations

import copy
from typing import Any, Dict, List, Optional

from . import _html


class Limits:
    """How far the workload stretches on its GPUs: the largest batch at the asked context
    (``max_batch``; concurrent sequences when serving), the longest context at the asked batch
    (``max_context``), and the smallest catalog GPUs that fit as asked. ``None`` where even
    one sequence or token does not fit."""

    def __init__(self, limits: Dict[str, Any]) -> None:
        self._limits = limits
        self.max_batch: Optional[int] = limits.get("max_batch")
        self.max_concurrent_sequences: Optional[int] = limits.get("max_concurrent_sequences")
        self.max_context: Optional[int] = limits.get("max_context")
        self.model_max_context: Optional[int] = limits.get("model_max_context")
        self.min_gpus: Optional[int] = limits.get("min_gpus")
        self.gpus_that_fit: List[Dict[str, Any]] = list(limits.get("gpus_that_fit") or [])

    def to_dict(self) -> Dict[str, Any]:
        """The ``limits`` object of ``vramfit fit --json`` (a copy)."""
        return copy.deepcopy(self._limits)

    def __repr__(self) -> str:
        return f"<vramfit.Limits max_batch={self.max_batch} max_context={self.max_context}>"


class Plan:
    """One way to make the workload fit: its ``changes`` (each with its CLI ``flag``,
    description and costs), the memory per GPU, headroom, and its own limits."""

    def __init__(self, plan: Dict[str, Any]) -> None:
        self._plan = plan
        self.rank: int = plan["rank"]
        self.flags: str = plan["flags"]
        self.changes: List[Dict[str, Any]] = plan["changes"]
        self.cost: str = plan["cost"]
        self.fits: bool = plan["fits"]
        self.tight: bool = plan["tight"]
        self.per_gpu_bytes: int = plan["per_gpu_bytes"]
        self.headroom_bytes: int = plan["headroom_bytes"]
        self.peak_phase: str = plan["peak_phase"]
        self.workload: Dict[str, Any] = plan["workload"]
        self.limits: Optional[Limits] = Limits(plan["limits"]) if plan.get("limits") else None

    def to_dict(self) -> Dict[str, Any]:
        """This plan as ``vramfit fit --json`` prints it (a copy)."""
        return copy.deepcopy(self._plan)

    def __repr__(self) -> str:
        return (
            f"<vramfit.Plan {self.rank}: {self.flags} -> {_html.gib(self.per_gpu_bytes)} per GPU, "
            f"{_html.signed_gib(self.headroom_bytes)} headroom>"
        )


class Plans(List[Plan]):
    """The ranked plans (a list: ``plans[0]`` is the best), with the verdict as asked
    (``as_asked``), the GPU, and the ``limits``."""

    def __init__(self, answer: Dict[str, Any]) -> None:
        report = answer["report"]
        super().__init__(Plan(p) for p in report["plans"])
        self._report: Dict[str, Any] = report
        self._table: str = answer["table"]
        self.model: str = report["model"]
        self.gpu: Dict[str, Any] = report["gpu"]
        self.as_asked: Dict[str, Any] = report["as_asked"]
        self.fits_as_asked: bool = report["as_asked"]["fits"]
        self.limits: Limits = Limits(report["limits"])
        self.notes: List[str] = list(report["notes"])

    def to_dict(self) -> Dict[str, Any]:
        """The object ``vramfit fit --json`` prints for the same workload (a copy)."""
        return copy.deepcopy(self._report)

    def verdict(self) -> str:
        a = self.as_asked
        where = f"{self.gpu['label']} ({_html.gib(self.gpu['usable_bytes'])} usable)"
        state = "fits" if a["fits"] else "does not fit"
        return f"{self.model} as asked: {_html.gib(a['per_gpu_bytes'])} per GPU, {state} {where}; {len(self)} plans"

    def __str__(self) -> str:
        return self._table

    def __repr__(self) -> str:
        return f"<vramfit.Plans {self.verdict()}>"

    def _repr_html_(self) -> str:
        rows = [
            (
                str(p.rank),
                p.flags,
                "; ".join(c.get("description", "") for c in p.changes),
                f"{p.per_gpu_bytes / _html.GIB:.2f}",
                f"{p.headroom_bytes / _html.GIB:.2f}",
                p.cost,
            )
            for p in self
        ]
        lim = self.limits
        limits = _html.table(
            "vramfit-limits",
            ("max batch", "max context", "smallest GPUs that fit"),
            [
                (
                    "–" if lim.max_batch is None else str(lim.max_batch),
                    "–" if lim.max_context is None else str(lim.max_context),
                    ", ".join(g["name"] for g in lim.gpus_that_fit) or "–",
                )
            ],
        )
        return _html.block(
            _html.verdict(self.fits_as_asked, self.verdict()),
            _html.table(
                "vramfit-plans", ("rank", "flags", "changes", "GiB per GPU", "headroom GiB", "cost"), rows, "r__rr"
            ),
            limits,
        )
