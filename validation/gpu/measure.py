#!/usr/bin/env python3
"""Measures peak memory of real transformers / PEFT workloads on a GPU, case by case.

    python3 validation/gpu/measure.py --dry-run --plan tiny          # what would run; no torch
    python3 validation/gpu/measure.py --device cpu --plan tiny --out /tmp/r.jsonl   # self-test
    python3 validation/gpu/measure.py --plan device --out $OUT/gpu-results.jsonl    # on a GPU
    python3 validation/gpu/measure.py --cases validation/oracle/cases.json --only Qwen3-0.6B

Each case (a plan entry: ``plan.py``) runs in its own process, forked from this one (which
imported torch, transformers and peft but never initialises CUDA; ``--start spawn`` starts a
fresh interpreter instead), so every case has a fresh CUDA context and caching allocator;
a case still running after its time limit is killed and recorded as a timeout.  One JSON line
per case is appended to ``--out`` as soon as it finishes (cases skipped because they cannot
fit the card or cannot be run are recorded too, with the reason), so a run that is cut off
keeps everything it measured; a re-run skips the ids already measured there unless
``--force``.  ``merge.py`` turns the lines into cases of the shared validation format.
What one case measures and how: ``workload.py``.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import plan as P  # noqa: E402  (no torch: the dry run must not import it)

GiB = 2 ** 30
# --device cpu is the kit's self-test: cases that need more than this are skipped, not run on the CPU
CPU_SELF_TEST_BYTES = 4 * GiB


def describe(spec):
    """One line for a workload spec."""
    t = spec["task"]
    if t == "load":
        return f"load {spec.get('dtype', 'bf16')}"
    if t in ("prefill", "generate"):
        nt = f" +{spec.get('new_tokens', 1) - 1} decode" if t == "generate" else ""
        return f"{t} {spec.get('dtype', 'bf16')} {spec.get('attn', 'sdpa')} b{spec.get('batch', 1)} s{spec.get('seq', 512)}{nt}"
    lo = ""
    if spec.get("method") in ("lora", "dora"):
        tg = spec.get("lora_targets", ["q_proj", "v_proj"])
        tg = tg if isinstance(tg, str) else "+".join(tg)
        lo = f" r{spec.get('lora_r', 8)} {tg}" + (f" dropout {spec['lora_dropout']}" if spec.get("lora_dropout") else "")
    return (f"train {spec.get('method', 'full')}{lo} {spec.get('precision', 'pure-bf16')} {spec.get('optimizer', 'adamw')}"
            f"{' ckpt' if spec.get('grad_ckpt') else ''} {spec.get('attn', 'sdpa')} b{spec.get('batch', 1)} s{spec.get('seq', 512)}"
            f" x{spec.get('steps', 2)} steps")


def card_bytes_from_nvidia_smi():
    """The GPU's memory from nvidia-smi (no torch, no CUDA context), or None."""
    if not shutil.which("nvidia-smi"):
        return None
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits", "-i", "0"],
                             capture_output=True, text=True, timeout=30)
        return int(float(out.stdout.strip().splitlines()[0]) * 2 ** 20)
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError):
        return None


def load_plan(a):
    if a.cases:
        return {"name": "cases:" + ",".join(a.cases), "sources": a.cases, "budget_s": 480, "case_timeout_s": 120,
                "card_gib_assumed": 80, "stages": [{"name": "file", "why": "the files' own order"}]}
    return P.load_plan(a.plan)


def select(entries, a):
    if a.only:
        entries = [e for e in entries if all(o in e["id"] for o in a.only)]
    if a.limit is not None:
        entries = entries[: a.limit]
    return entries


def resolve(plan, a, card):
    if a.device == "cpu":
        return select(P.resolve(plan, CPU_SELF_TEST_BYTES, where="the CPU self-test's 4 GiB"), a)
    return select(P.resolve(plan, card), a)


def dry_run(plan, a):
    card = int(a.card_gib * GiB) if a.card_gib else int(plan["card_gib_assumed"] * GiB)
    entries = resolve(plan, a, card)
    budget = a.budget_s or plan["budget_s"]
    mem = ("CPU self-test (cases over 4 GiB skipped)" if a.device == "cpu" else
           f"card {card / GiB:.0f} GiB{' (assumed)' if not a.card_gib else ''}")
    print(f"plan {plan['name']}: sources {', '.join(plan['sources'])}; device {a.device}; {mem}; budget {budget} s, "
          f"case limit {a.case_timeout_s or plan['case_timeout_s']} s")
    t = 0.0
    for i, e in enumerate(entries, 1):
        if e["skip"]:
            print(f"{i:4d} SKIP {e['id']}: {e['skip']}")
            continue
        t += e["est_s"]
        print(f"{i:4d} [{e['stage']}] {e['id']}: {describe(e['spec'])}; config {e['spec']['config']}; "
              f"needs ~{e['need'] / GiB:.1f} GiB; ~{e['est_s']:.0f} s (cumulative {t:.0f} s)")
    print(P.summary_line(entries, budget))


# ----------------------------------------------------------------------------------------------
# The real run
# ----------------------------------------------------------------------------------------------
def _child(entry, device, path):
    import warnings

    import workload

    warnings.filterwarnings("ignore")  # transformers' deprecation notices, once per case otherwise

    try:
        res = workload.measure(entry, device)
        with open(path, "w") as f:
            json.dump(res, f)
    finally:
        os._exit(0)


def wait_device_idle(limit_s=5.0):
    """Waits until the GPU's used memory stops falling (the last case's process may still be
    handing its memory back), so that the next case's pre-context baseline is the idle one."""
    last = None
    t0 = time.time()
    while time.time() - t0 < limit_s:
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits", "-i", "0"],
                                 capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return
        used = out.stdout.strip()
        if used == last:
            return
        last = used
        time.sleep(0.2)


def run_entry(ctx, entry, device, timeout):
    """Runs one entry in a child process (forked or spawned); returns its result record."""
    if ctx.get_start_method() == "fork":
        import torch

        assert not torch.cuda.is_initialized(), "the parent must never initialise CUDA (the fork would inherit it)"
    if device == "cuda":
        wait_device_idle()
    fd, path = tempfile.mkstemp(prefix="measure-", suffix=".json")
    os.close(fd)
    t0 = time.time()
    p = ctx.Process(target=_child, args=(entry, device, path))
    p.start()
    p.join(timeout)
    res = None
    if p.is_alive():
        p.kill()
        p.join()
        res = {"id": entry["id"], "status": "timeout", "error": f"killed after its {timeout:.0f} s limit"}
    else:
        try:
            with open(path) as f:
                txt = f.read()
            res = json.loads(txt) if txt else None
        except (OSError, ValueError):
            res = None
        if res is None:
            res = {"id": entry["id"], "status": "crashed",
                   "error": f"the case's process exited with code {p.exitcode} without a result"}
    os.unlink(path)
    res["wall_s"] = round(time.time() - t0, 2)
    return res


def done_ids(path):
    ids = set()
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    r = json.loads(line)
                    if r.get("status") == "ok":
                        ids.add(r["id"])
    return ids


def gib(n):
    return "-" if n is None else f"{n / GiB:.3f}"


def real_run(plan, a):
    import multiprocessing

    if a.start == "fork":
        # Imported once here, so each forked case starts with torch, transformers and peft loaded.
        # CUDA must stay untouched in this process (a child forked after cuInit cannot use CUDA):
        # should a library ask torch.cuda.is_available() on import, NVML answers, not the driver.
        os.environ.setdefault("PYTORCH_NVML_BASED_CUDA_CHECK", "1")
        import workload  # noqa: F401
    ctx = multiprocessing.get_context(a.start)
    budget = a.budget_s or plan["budget_s"]
    case_limit = a.case_timeout_s or plan["case_timeout_s"]
    stop_at = a.stop_s or budget + case_limit
    if a.device == "cuda":
        # torch.cuda.is_available() would initialise the driver here, before the forks; nvidia-smi does not
        if not shutil.which("nvidia-smi"):
            print("error: --device cuda: no nvidia-smi, so no NVIDIA GPU here (--device cpu runs the self-test)",
                  file=sys.stderr)
            return 2
        card = card_bytes_from_nvidia_smi() or int((a.card_gib or plan["card_gib_assumed"]) * GiB)
    else:
        card = None
    entries = resolve(plan, a, card)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    have = set() if a.force else done_ids(a.out)
    todo = [e for e in entries if e["id"] not in have]
    print(f"plan {plan['name']}: {len(entries)} entries, {len(entries) - len(todo)} already in {a.out}; device "
          f"{a.device}, {a.start}{f', card {card / GiB:.1f} GiB' if card else ''}; no new case after {budget} s, "
          f"each at most {case_limit} s, all stopped at {stop_at} s", flush=True)
    t0 = time.time()
    n_ok = 0
    failed_in_a_row = 0
    with open(a.out, "a") as log:
        def write(rec, e):
            rec.update(plan=plan["name"], stage=e["stage"], case=P.public(e["case"]), cases_file=e["case"]["_file"],
                       config_path=e["case"]["_config"], est_s=round(e["est_s"], 1),
                       finished_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
            log.write(json.dumps(rec) + "\n")
            log.flush()

        for i, e in enumerate(todo, 1):
            el = time.time() - t0
            if e["skip"]:
                write({"id": e["id"], "status": "skipped", "reason": e["skip"], "spec": e["spec"]}, e)
                print(f"[{i}/{len(todo)}] {e['id']}: skipped: {e['skip']}", flush=True)
                continue
            if el > budget:
                print(f"budget of {budget} s reached after {el:.0f} s: {len(todo) - i + 1} entries not started",
                      flush=True)
                break
            limit = min(case_limit, max(5.0, stop_at - el))
            res = run_entry(ctx, {"id": e["id"], "spec": e["spec"]}, a.device, limit)
            write(res, e)
            # errors and crashes in a row point at the kit or the machine; an OOM or a slow case does not
            failed_in_a_row = failed_in_a_row + 1 if res["status"] in ("error", "crashed") else 0
            if res["status"] == "ok":
                n_ok += 1
                lv = res["levels"]
                ctx_b = (res.get("context") or {}).get("bytes")
                msg = (f"allocated {gib(lv['max_memory_allocated']['bytes'])} reserved "
                       f"{gib(lv['max_memory_reserved']['bytes'])} nvml {gib(lv['nvml_used']['bytes'])} GiB"
                       + (f", context {ctx_b / 2 ** 20:.0f} MiB" if ctx_b is not None else ""))
            else:
                msg = f"{res['status']}: {res.get('error', '')[:300]}"
            print(f"[{i}/{len(todo)}] {e['id']}: {msg} ({res['wall_s']} s; {time.time() - t0:.0f} s elapsed)",
                  flush=True)
            if a.max_failures and failed_in_a_row >= a.max_failures:
                print(f"stopping: {failed_in_a_row} cases in a row failed (a fault of the kit or the machine, "
                      f"not of the cases: fix it rather than spend the device time); see the traceback in {a.out}",
                      flush=True)
                return 1
    print(f"{n_ok} cases measured in {time.time() - t0:.0f} s; results in {a.out}", flush=True)
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--plan", default="device", help="a plan name in validation/gpu/plans/ or a path (default: device)")
    src.add_argument("--cases", action="append", help="measure this case file in its own order instead of a plan")
    ap.add_argument("--dry-run", action="store_true", help="print what would run; imports no torch")
    ap.add_argument("--device", choices=["cuda", "cpu"], default="cuda",
                    help="cuda (the measurement) or cpu (a self-test of the same code)")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "results.jsonl"), help="JSONL file appended to")
    ap.add_argument("--only", action="append", default=[], help="only the ids containing every such text")
    ap.add_argument("--limit", type=int, help="at most this many entries (after --only)")
    ap.add_argument("--budget-s", type=float, help="start no case after this many seconds (default: the plan's)")
    ap.add_argument("--stop-s", type=float, help="kill a running case at this many seconds (default: budget + case limit)")
    ap.add_argument("--case-timeout-s", type=float, help="time limit of one case (default: the plan's)")
    ap.add_argument("--card-gib", type=float, help="the card's memory when nvidia-smi cannot tell (default: the plan's)")
    ap.add_argument("--max-failures", type=int, default=4,
                    help="stop after this many cases in a row fail other than by running out of memory (0: never)")
    ap.add_argument("--start", choices=["fork", "spawn"], default="fork",
                    help="how each case's process starts: fork (from this one, libraries already imported; "
                         "default) or spawn (a fresh interpreter, a few seconds slower per case)")
    ap.add_argument("--force", action="store_true", help="measure again the ids already measured in --out")
    a = ap.parse_args(argv)
    try:
        plan = load_plan(a)
    except (OSError, ValueError) as e:
        print(f"error: --plan/--cases: {e}", file=sys.stderr)
        return 2
    if a.dry_run:
        dry_run(plan, a)
        return 0
    return real_run(plan, a)


if __name__ == "__main__":
    sys.exit(main())
