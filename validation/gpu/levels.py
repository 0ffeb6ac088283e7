"""The levels of one measured case, from its per-phase figures (no torch).

A phase record (``workload.CudaMeter.end`` / ``CpuMeter.end``) has the phase's peaks
(``max_allocated``, ``max_reserved``: the peak counters are reset at every phase start) and the
values at its end (``allocated``, ``reserved``, ``nvml_used``).  A case's value on each level
is taken over the phases the oracle counts (``measured_phases``).
"""
from __future__ import annotations

CPU_REASON = ("CPU run: there is no CUDA caching allocator and no NVML on the CPU; only the allocated "
              "level is measured (live tensor storages counted by the oracle's MemTracker on real tensors, "
              "each rounded up to 512 B)")
NO_NVML = "NVML not available (no pynvml, no nvidia-smi)"
METRICS = (("max_memory_allocated", "max_allocated", "allocated"),
           ("max_memory_reserved", "max_reserved", "reserved"),
           # NVML is read at phase ends only: the caching allocator gives nothing back to the
           # driver without empty_cache, so within the measured phases the last reading is the peak
           ("nvml_used", "nvml_used", "nvml_used"))


def measured_phases(task, names):
    """The phases whose peaks make the case's value, as the oracle counts them: a load case is
    the steady state after the build; an inference case everything after it; a training case
    the two steps (LoRA set-up and inputs come before the first step's peak reset in the trace)."""
    if task == "load":
        return [n for n in names if n == "load"]
    if task == "train":
        return [n for n in names if n[:3] in ("fwd", "bwd", "opt") or n.startswith("zero")]
    return [n for n in names if n in ("inputs", "prefill", "decode")]


def levels(task, phases, device):
    """{metric: {bytes, phase, reason}} for max_memory_allocated, max_memory_reserved, nvml_used.
    A load case takes the values at the end of the build; the others the highest phase peak."""
    want = measured_phases(task, [p["phase"] for p in phases])
    sel = [p for p in phases if p["phase"] in want]
    out = {}
    for metric, peak_key, end_key in METRICS:
        key = end_key if task == "load" else peak_key
        vals = [(p[key], p["phase"]) for p in sel if p.get(key) is not None]
        if not sel:
            out[metric] = {"bytes": None, "phase": None, "reason": "no measured phase completed"}
        elif not vals:
            out[metric] = {"bytes": None, "phase": None, "reason": CPU_REASON if device == "cpu" else NO_NVML}
        else:
            b, ph = max(vals, key=lambda v: v[0])
            out[metric] = {"bytes": int(b), "phase": ph, "reason": None}
    return out
