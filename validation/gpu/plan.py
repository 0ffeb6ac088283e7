"""What a GPU measurement run does: the case list, each case's workload, and the plan's order.

Nothing here imports torch: ``measure.py --dry-run`` runs on any Python 3.9+.

A case file is in the shared validation format (``../shared/validation/README.md``).  Each case
becomes a *workload spec* with the fields of the oracle's ``trace.Spec``
(``validation/oracle/trace.py``), so the GPU run and the GPU-free trace run the same steps:

* oracle cases carry their exact spec in ``source`` (``trace.py --spec '{...}'``): that spec is
  used as written (``spec_from_fields`` must agree with it; the tests check every oracle case);
* any other case is read from its standard fields (``spec_from_fields``); what the kit cannot
  run (quantized weights, several GPUs, torchtune/litgpt recipes, gradient accumulation,
  chunked cross-entropy, ...) is refused with the reason, never approximated.

A plan (``plans/NAME.json``) names the case files and orders their cases in stages; a case
appears once, in the first stage that selects it.  Cases that cannot fit the card are kept in
the order with ``skip`` set to the reason, so the run records why they were not measured.
"""
from __future__ import annotations

import json
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
PLANS = os.path.join(HERE, "plans")
GiB = 2 ** 30

DTYPE_SHORT = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16"}
# what the oracle's Spec (and so this kit) can run
PRECISIONS = ("fp32", "pure-bf16", "mixed-bf16")
OPTIMIZERS = ("adamw", "sgd", "adafactor")
METHODS = ("full", "lora", "dora", "ia3")
# transformers refuses SDPA for Gemma-2 (attention-logit softcapping); the oracle runs it eager
EAGER_ONLY = ("gemma2",)

# Fit check: a case is tried when its known allocated peak, plus what the caching allocator
# may add above it and the CUDA context, is below the card's memory.  The margins are loose on
# purpose (measuring them is the point of the run): an over-tight case just fails with an OOM,
# which is recorded.
ALLOCATOR_MARGIN = 0.10
CONTEXT_MARGIN = 1.5 * GiB


class Unsupported(Exception):
    """The kit cannot run this case; the message says why."""


# ----------------------------------------------------------------------------------------------
# Case files
# ----------------------------------------------------------------------------------------------
def repo_path(p):
    return p if os.path.isabs(p) else os.path.join(REPO, p)


def load_cases(path):
    """The cases of one file, each with ``_file`` (its path) and ``_config`` (its config.json)."""
    path = repo_path(path)
    with open(path) as f:
        cases = json.load(f)
    base = os.path.dirname(path)
    for c in cases:
        c["_file"] = os.path.relpath(path, REPO)
        c["_config"] = os.path.relpath(os.path.join(base, c["model"]["config_file"]), REPO)
    return cases


def read_config(case):
    with open(repo_path(case["_config"])) as f:
        return json.load(f)


def public(case):
    """The case as written in its file (without the loader's ``_`` keys)."""
    return {k: v for k, v in case.items() if not k.startswith("_")}


# ----------------------------------------------------------------------------------------------
# Case -> workload spec
# ----------------------------------------------------------------------------------------------
_ORACLE_SPEC = re.compile(r"trace\.py --spec '(\{.*\})'")


def oracle_spec(case):
    """The spec an oracle case was traced with (``source``: ``trace.py --spec '{...}'``), or None."""
    m = _ORACLE_SPEC.search(case.get("source") or "")
    return json.loads(m.group(1)) if m else None


def spec_from_fields(case, model_type=None):
    """The workload spec read from the case's standard fields; raises Unsupported."""
    if "skip_reason" in case:
        raise Unsupported(f"the case itself is skipped: {case['skip_reason']}")
    if case["runtime"] not in ("transformers", "peft-transformers"):
        raise Unsupported(f"runtime {case['runtime']}: the kit runs transformers/peft code only")
    w = case["weights"]
    if w["quant"] is not None:
        raise Unsupported(f"quantized weights ({w['quant']}): the kit builds unquantized models only")
    p = case["parallel"]
    if p["gpus"] != 1 or p["strategy"] != "none" or p["cpu_offload"]:
        raise Unsupported(f"{p['gpus']} GPU(s), strategy {p['strategy']}: the kit runs one GPU, no offload")
    task = case["task"]
    spec = {"task": task}
    if task in ("load", "prefill", "generate"):
        spec["dtype"] = DTYPE_SHORT[w["dtype"]]
    if task in ("prefill", "generate"):
        inf = case["inference"]
        att = inf["attention"] or "sdpa"
        if att not in ("sdpa", "eager"):
            raise Unsupported(f"attention {att}: needs the flash-attn package; the kit runs sdpa or eager")
        if inf["kv_cache_dtype"] not in (None, w["dtype"]):
            raise Unsupported(f"KV cache in {inf['kv_cache_dtype']} with {w['dtype']} weights")
        if inf["kv_prealloc_tokens"] is not None:
            raise Unsupported("a preallocated KV cache (litgpt): transformers grows its cache")
        spec.update(attn=att, batch=inf["batch_size"], seq=inf["prompt_tokens"],
                    new_tokens=max(1, inf["new_tokens"]))
    elif task == "train":
        tr = case["training"]
        for key, ok in (("method", METHODS), ("precision", PRECISIONS), ("optimizer", OPTIMIZERS)):
            if tr[key] not in ok:
                raise Unsupported(f"training.{key} {tr[key]}: the kit runs {', '.join(ok)}")
        if tr["grad_accum"] not in (None, 1):
            raise Unsupported(f"grad_accum {tr['grad_accum']}: the kit runs one micro-batch per step")
        for key in ("optimizer_in_backward", "activation_offload", "chunked_ce", "compile"):
            if tr[key]:
                raise Unsupported(f"training.{key}: not in the kit's training loop")
        spec.update(method=tr["method"], precision=tr["precision"], optimizer=tr["optimizer"],
                    grad_ckpt=bool(tr["grad_checkpointing"]), batch=tr["batch_size"], seq=tr["seq_len"],
                    attn="eager" if model_type in EAGER_ONLY else "sdpa")
        if tr["method"] in ("lora", "dora"):
            lo = tr["lora"]
            spec.update(lora_r=lo["rank"], lora_alpha=lo["alpha"], lora_targets=list(lo["targets"]),
                        lora_dropout=lo["dropout"] or 0.0)
    elif task != "load":
        raise Unsupported(f"task {task}")
    return spec


def case_spec(case):
    """The workload spec of a case: the oracle's own spec where it has one, else the fields'.
    ``config`` is the repository-relative path of its config.json."""
    model_type = read_config(case).get("model_type")
    derived = spec_from_fields(case, model_type)  # raises Unsupported for what cannot run
    spec = oracle_spec(case) or derived
    spec = dict(spec)
    spec["config"] = case["_config"]
    return spec


# ----------------------------------------------------------------------------------------------
# Cost (for the order and the dry-run's time estimate) and fit
# ----------------------------------------------------------------------------------------------
def n_layers(cfg):
    cfg = cfg.get("text_config", cfg)
    return cfg.get("num_hidden_layers") or cfg.get("n_layer") or 32


def est_seconds(case, spec):
    """A rough guess of one case's wall time on an H100, only to order the plan and say what
    a budget holds: a fixed cost (fork, CUDA context, NVML queries), the build (random init on
    the GPU), then per-layer kernel launches and the matmul work.  The run records the real
    time of every case (``wall_s``); replace these guesses by those when a run exists."""
    cfg = read_config(case)
    L = n_layers(cfg)
    n = case["model"]["params"] or 1e9
    fixed = 2.0
    build = 0.4 * n / 1e9 + 0.01 * L
    task = spec["task"]
    if task == "load":
        return fixed + build
    tokens = spec.get("batch", 1) * spec.get("seq", 1)
    if task in ("prefill", "generate"):
        work = L * 0.002 + 2 * n * tokens / 2e14
        work += (spec.get("new_tokens", 1) - 1) * (L * 0.001 + 2 * n / 2e12)
        return fixed + build + work
    step = L * 0.012 * (1.3 if spec.get("grad_ckpt") else 1) + 8 * n * tokens / 2e14 + 16 * n / 2e12
    return fixed + build + 2 * step


def need_bytes(case):
    """What the case needs on the card, from its recorded peak (allocated, or a higher level)."""
    return int(case["measured"]["bytes"] * (1 + ALLOCATOR_MARGIN) + CONTEXT_MARGIN)


def family(case):
    return read_config(case).get("model_type", "?")


# ----------------------------------------------------------------------------------------------
# Plans
# ----------------------------------------------------------------------------------------------
def plan_path(name):
    if os.path.sep in name or name.endswith(".json"):
        return repo_path(name)
    return os.path.join(PLANS, name + ".json")


def load_plan(name):
    with open(plan_path(name)) as f:
        plan = json.load(f)
    for key in ("name", "sources", "stages", "budget_s", "case_timeout_s", "card_gib_assumed"):
        if key not in plan:
            raise ValueError(f"plan {name}: missing key {key!r}")
    known = {"name", "why", "task", "method", "id_contains", "max_params", "min_params", "max_need_gib",
             "family_once", "order", "limit"}
    for st in plan["stages"]:
        extra = set(st) - known
        if extra:
            raise ValueError(f"plan {name}, stage {st.get('name')}: unknown keys {sorted(extra)}")
        if st.get("order", "file") not in ("file", "params", "cost", "need"):
            raise ValueError(f"plan {name}, stage {st['name']}: order {st['order']!r}")
    return plan


def _matches(st, case, spec):
    if "task" in st and case["task"] not in st["task"]:
        return False
    if "method" in st and (spec.get("method") if case["task"] == "train" else None) not in st["method"]:
        return False
    if "id_contains" in st and not any(s in case["id"] for s in st["id_contains"]):
        return False
    n = case["model"]["params"] or 0
    if "max_params" in st and n > st["max_params"]:
        return False
    if "min_params" in st and n < st["min_params"]:
        return False
    if "max_need_gib" in st and need_bytes(case) > st["max_need_gib"] * GiB:
        return False
    return True


def resolve(plan, card_bytes=None, check_fit=True, where="the card"):
    """The plan's cases in order: a list of dicts {id, stage, case, spec, est_s, need, skip}.
    Cases the kit cannot run are listed too, with ``skip`` saying why, after the planned ones.
    ``card_bytes`` (default: the plan's assumed card) is what ``where`` holds."""
    card_bytes = card_bytes or int(plan["card_gib_assumed"] * GiB)
    cases = []
    seen_ids = set()
    for src in plan["sources"]:
        for c in load_cases(src):
            if c["id"] in seen_ids:
                raise ValueError(f"case id {c['id']} appears twice in the plan's sources")
            seen_ids.add(c["id"])
            cases.append(c)
    entries = []
    runnable = []
    for c in cases:
        try:
            spec = case_spec(c)
        except Unsupported as e:
            entries.append({"id": c["id"], "stage": "-", "case": c, "spec": None, "est_s": 0.0,
                            "need": None, "skip": f"unsupported: {e}"})
            continue
        runnable.append({"id": c["id"], "case": c, "spec": spec, "est_s": est_seconds(c, spec),
                         "need": need_bytes(c), "family": family(c)})
    picked = set()
    ordered = []
    for st in plan["stages"]:
        pool = [e for e in runnable if e["id"] not in picked and _matches(st, e["case"], e["spec"])]
        order = st.get("order", "file")
        if order == "params":
            pool.sort(key=lambda e: (e["case"]["model"]["params"] or 0, e["est_s"]))
        elif order == "cost":
            pool.sort(key=lambda e: e["est_s"])
        elif order == "need":
            pool.sort(key=lambda e: e["need"])
        if st.get("family_once"):
            fams = set()
            first = []
            for e in pool:
                if e["family"] not in fams:
                    fams.add(e["family"])
                    first.append(e)
            pool = first
        if "limit" in st:
            pool = pool[: st["limit"]]
        for e in pool:
            picked.add(e["id"])
            ordered.append(dict(e, stage=st["name"], skip=None))
    for e in ordered:
        if check_fit and e["need"] > card_bytes:
            e["skip"] = (f"does not fit {where}: needs about {e['need'] / GiB:.1f} GiB (recorded peak "
                         f"{e['case']['measured']['bytes'] / GiB:.1f} GiB + {ALLOCATOR_MARGIN:.0%} allocator "
                         f"+ {CONTEXT_MARGIN / GiB:.1f} GiB context) > {card_bytes / GiB:.1f} GiB")
    return ordered + entries


def summary_line(entries, budget_s):
    run = [e for e in entries if not e["skip"]]
    t = 0.0
    inside = 0
    for e in run:
        t += e["est_s"]
        if t <= budget_s:
            inside += 1
    skipped = len(entries) - len(run)
    return (f"{len(run)} cases to run (estimated {t:.0f} s; {inside} within the {budget_s} s budget), "
            f"{skipped} skipped")
