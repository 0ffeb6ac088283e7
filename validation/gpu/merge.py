#!/usr/bin/env python3
"""Merges measure.py results (JSONL) into a cases file of the shared validation format.

    python3 validation/gpu/merge.py RESULTS.jsonl [MORE.jsonl ...]   # -> validation/gpu/cases.json
    python3 validation/gpu/merge.py RESULTS.jsonl --report           # also the level comparison
    python3 validation/gpu/merge.py r.jsonl --out /tmp/x/cases.json --allow-cpu   # the self-test

Every measured run gives up to three cases, one per level, all grade A: ``-alloc``
(``max_memory_allocated``), ``-reserved`` (``max_memory_reserved``) and ``-nvml``
(``nvml_used``: what NVML shows for the process, the CUDA context and libraries included).  Their
ids are ``GPU-<gpu>-<case id>-<level>``, so runs on other cards add cases instead of replacing
them; a case already in the output with the same id is replaced by the newer measurement.
The workload fields (model, task, weights, inference, training, parallel) are the input case's,
unchanged; the configs are copied next to the output (``configs/``).  Results of CPU runs (the
kit's self-test) are refused unless ``--allow-cpu``: they are not GPU measurements.  The output
is checked with ``../shared/validation/check_cases.py`` when that file is there.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)

from measure import describe  # noqa: E402  (no torch)

GiB = 2 ** 30
MiB = 2 ** 20
LEVELS = [("max_memory_allocated", "alloc"), ("max_memory_reserved", "reserved"), ("nvml_used", "nvml")]
CHECKERS = [os.path.join(REPO, "..", "shared", "validation", "check_cases.py"),
            "/work/shared/validation/check_cases.py"]


def read_results(paths):
    """The latest record of every id over all files, in first-seen order."""
    latest = {}
    for p in paths:
        with open(p) as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    r = json.loads(line)
                except ValueError as e:
                    raise ValueError(f"{p}:{n}: not JSON ({e})") from e
                latest[r["id"]] = r
    return list(latest.values())


def gpu_tag(env):
    if env.get("device") == "cpu":
        return "CPU"
    name = (env.get("gpu") or "GPU").replace("NVIDIA", "").strip()
    return re.sub(r"[^A-Za-z0-9.]+", "-", name.split()[0] if name else "GPU")


def phase_table(phases):
    def g(v):
        return "-" if v is None else f"{v / GiB:.3f}"

    return "; ".join(f"{p['phase']} {g(p.get('max_allocated'))}/{g(p.get('max_reserved'))}/{g(p.get('nvml_used'))}"
                     for p in phases)


def to_cases(r):
    """The cases of one ok result record."""
    src = r["case"]
    env = r["env"]
    spec = r["spec"]
    cpu = env.get("device") == "cpu"
    tag = gpu_tag(env)
    ctx = r.get("context") or {}
    oracle_b = src["measured"]["bytes"] if src["measured"]["metric"] == "max_memory_allocated" else None
    versions = (f"torch {env.get('torch')} transformers {env.get('transformers')} peft {env.get('peft')}"
                + (f", CUDA {env.get('cuda')}, driver {env.get('driver')}" if not cpu else ""))
    where = "the CPU (kit self-test, not a GPU measurement)" if cpu else env.get("gpu")
    common = [
        f"Measured by validation/gpu/measure.py (plan {r.get('plan')}) on {where}; {versions}; "
        f"{r.get('finished_at')}.",
        f"Workload: {describe(spec)} (the oracle's steps, validation/gpu/workload.py): model built with "
        f"from_config in the asked dtype directly on the device (random weights), free cached blocks released "
        f"after the build; the input case {src['id']} ({r.get('cases_file')}) says the rest: {src['notes'][:300]}"
        + ("..." if len(src["notes"]) > 300 else ""),
        "Per phase max allocated/reserved/NVML (GiB): " + phase_table(r["phases"]) + ".",
    ]
    if not cpu:
        ctx_b = ctx.get("bytes")
        common.append(f"CUDA context alone (NVML, before any tensor): "
                      f"{'unknown' if ctx_b is None else f'{ctx_b / MiB:.0f} MiB'}; NVML via {env.get('nvml_via')}; "
                      f"PYTORCH_CUDA_ALLOC_CONF={env.get('alloc_conf')}.")
    out = []
    for metric, short in LEVELS:
        lv = r["levels"][metric]
        b = lv["bytes"]
        if b is None:
            continue
        why = {
            "max_memory_allocated": "torch.cuda.max_memory_allocated()" if not cpu else
            "live tensor storages (oracle MemTracker on real CPU tensors, 512 B rounding)",
            "max_memory_reserved": "torch.cuda.max_memory_reserved()",
            "nvml_used": ("NVML used memory of this process at the phase end (its own row where NVML shows "
                          "processes, else the device's used memory minus what was used before its context)"
                          if ctx.get("nvml_per_phase") else
                          "NVML used memory of this process (its own row where NVML shows processes, else the "
                          "device's used memory minus what was used before its context) right after the context "
                          "was created, plus the growth of cudaMemGetInfo's used memory since then, at the phase "
                          f"end (nvidia-smi only: the final NVML reading differs by "
                          f"{(ctx.get('nvml_final_minus_last_phase') or 0) / MiB:+.0f} MiB)")
                         + "; the caching allocator gives nothing back without empty_cache, so the last phase "
                           "end is the peak",
        }[metric]
        peak = ("the steady state after the build" if spec["task"] == "load"
                else f"the peak over the workload's phases, in {lv['phase']}")
        notes = [f"Level {metric}: {why}; {peak}."] + common
        if metric == "max_memory_allocated" and oracle_b:
            notes.append(f"The input case's recorded allocated peak: {oracle_b} B "
                         f"({b / oracle_b - 1:+.2%} measured vs recorded).")
        model = dict(src["model"])
        model["config_file"] = "configs/" + os.path.basename(src["model"]["config_file"])
        out.append({
            "id": f"GPU-{tag}-{src['id']}-{short}",
            "source": f"vramfit GPU kit, validation/gpu/measure.py (plan {r.get('plan')}) on {where}; {versions}; "
                      f"workload of {src['id']} in {r.get('cases_file')}",
            "grade": "A",
            "model": model,
            "runtime": src["runtime"],
            "task": src["task"],
            "weights": src["weights"],
            "inference": src["inference"],
            "training": src["training"],
            "parallel": src["parallel"],
            "gpu": None if cpu else env.get("gpu"),
            "measured": {"bytes": int(b), "metric": metric, "per_device": True},
            "notes": " ".join(notes),
        })
    return out


def merge(results, out_path, allow_cpu=False):
    """Writes the merged cases; returns (n_written, messages)."""
    msgs = []
    new = []
    for r in results:
        if r.get("status") != "ok":
            msgs.append(f"not merged: {r['id']}: {r.get('status')}: {(r.get('error') or r.get('reason') or '')[:200]}")
            continue
        if r["env"].get("device") == "cpu" and not allow_cpu:
            msgs.append(f"not merged: {r['id']}: a CPU run (pass --allow-cpu for the self-test)")
            continue
        for c in to_cases(r):
            if not 10 ** 8 < c["measured"]["bytes"] < 2 * 10 ** 11:
                msgs.append(f"not merged: {c['id']}: {c['measured']['bytes']} B is outside the format's 1e8..2e11 B")
                continue
            cfg_src = os.path.join(REPO, r["config_path"])
            cfg_dst = os.path.join(os.path.dirname(os.path.abspath(out_path)), c["model"]["config_file"])
            os.makedirs(os.path.dirname(cfg_dst), exist_ok=True)
            if not os.path.exists(cfg_dst):
                shutil.copyfile(cfg_src, cfg_dst)
            new.append(c)
    old = []
    if os.path.exists(out_path):
        with open(out_path) as f:
            old = json.load(f)
    ids = {c["id"] for c in new}
    merged = [c for c in old if c["id"] not in ids] + new
    tmp = out_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(merged, f, indent=1)
        f.write("\n")
    os.replace(tmp, out_path)
    return len(new), len(merged), msgs


def report(results):
    """The three levels above the tensors, over the measured runs: what vramfit models as the
    CUDA context and workspaces, the allocator's overhead, and allocated vs the recorded peak."""
    ok = [r for r in results if r.get("status") == "ok" and r["env"].get("device") == "cuda"]
    if not ok:
        print("no GPU results to report")
        return

    def stats(name, xs, fmt):
        if not xs:
            print(f"{name}: no data")
            return
        xs = sorted(xs)
        p90 = xs[min(len(xs) - 1, int(0.9 * len(xs)))]
        print(f"{name}: n={len(xs)} min {fmt(xs[0])} median {fmt(statistics.median(xs))} p90 {fmt(p90)} "
              f"max {fmt(xs[-1])}")

    mib = lambda v: f"{v / MiB:.0f} MiB"  # noqa: E731
    pct = lambda v: f"{v:+.2%}"  # noqa: E731
    stats("CUDA context alone (NVML)", [r["context"]["bytes"] for r in ok if r["context"].get("bytes") is not None], mib)
    def lv(r, m):
        return (r.get("levels") or {}).get(m, {}).get("bytes")

    A, R, N = "max_memory_allocated", "max_memory_reserved", "nvml_used"
    stats("nvml_used - max_reserved (context, kernels, libraries)",
          [lv(r, N) - lv(r, R) for r in ok if lv(r, N) is not None and lv(r, R) is not None], mib)
    stats("max_reserved / max_allocated - 1",
          [lv(r, R) / lv(r, A) - 1 for r in ok if lv(r, R) is not None and lv(r, A)], pct)
    stats("max_reserved - max_allocated", [lv(r, R) - lv(r, A) for r in ok if lv(r, R) is not None and lv(r, A)], mib)
    stats("measured allocated / recorded allocated - 1",
          [lv(r, A) / r["case"]["measured"]["bytes"] - 1 for r in ok
           if lv(r, A) and r["case"]["measured"]["metric"] == "max_memory_allocated"], pct)
    bad = [r for r in results if r.get("status") not in ("ok", "skipped")]
    for r in bad:
        print(f"{r['status']}: {r['id']}: {(r.get('error') or '')[:200]}")


def check(out_path):
    for c in CHECKERS:
        if os.path.exists(c):
            p = subprocess.run([sys.executable, c, out_path], capture_output=True, text=True)
            print(p.stdout.strip().splitlines()[-1] if p.stdout.strip() else p.stderr.strip())
            if p.returncode != 0:
                print(p.stdout, file=sys.stderr)
            return p.returncode
    print("check_cases.py not found (../shared/validation): output not checked")
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", nargs="+", help="measure.py JSONL output file(s)")
    ap.add_argument("--out", default=os.path.join(HERE, "cases.json"), help="cases file to merge into")
    ap.add_argument("--allow-cpu", action="store_true", help="merge CPU self-test results too")
    ap.add_argument("--report", action="store_true", help="print the level comparison of the GPU results")
    a = ap.parse_args(argv)
    try:
        results = read_results(a.results)
    except (OSError, ValueError) as e:
        print(f"error: RESULTS: {e}", file=sys.stderr)
        return 2
    n_new, n_all, msgs = merge(results, a.out, a.allow_cpu)
    for m in msgs:
        print(m)
    print(f"merged {n_new} cases from {len(results)} results into {a.out} ({n_all} cases in all)")
    if a.report:
        report(results)
    return 1 if check(a.out) else 0


if __name__ == "__main__":
    sys.exit(main())
