#!/usr/bin/env python3
"""Fit the speed constants per backend and report in-sample and leave-one-out errors.

    vramfit validate validation/speed/cases.json --json > /tmp/speed.json
    python3 validation/speed/fit.py /tmp/speed.json

Decode: every case gives x = bytes read per step / datasheet bandwidth (recovered exactly from
its estimate and basis: x = (1/estimate - t0) * eta) and the measured time per token
y = 1/measured. The model y = x/eta + t0 is a straight line; (1/eta, t0) is fitted by least
squares of the relative error (rows weighted by 1/y), t0 >= 0.
Prefill: F_eff = min(share * peak, cap): share (and, for llama.cpp CUDA, a kernel ceiling cap)
by a grid search minimising the squared log error. Training: one MFU per runtime, same way.
Leave-one-out: each case predicted from constants fitted without it; that is the number
ACCURACY.md reports and the error band the CLI prints."""
import json, math, sys
from collections import defaultdict


def basis(c, name):
    for b in c.get("basis") or []:
        if b["name"] == name:
            return b["value"]
    return None


def stats(errs):
    a = sorted(abs(e) for e in errs)
    if not a:
        return None, None
    n = len(a)
    med = a[n // 2] if n % 2 else (a[n // 2 - 1] + a[n // 2]) / 2
    p90 = a[max(1, math.ceil(0.9 * n)) - 1]
    return med, p90


def fit_line(rows):
    # rows: (x, y); minimise sum(((a x + t) - y)/y)^2, t >= 0
    s = [[0.0, 0.0], [0.0, 0.0]]
    r = [0.0, 0.0]
    for x, y in rows:
        u, v = x / y, 1.0 / y
        s[0][0] += u * u; s[0][1] += u * v; s[1][1] += v * v
        r[0] += u; r[1] += v
    s[1][0] = s[0][1]
    det = s[0][0] * s[1][1] - s[0][1] ** 2
    if len(rows) >= 2 and abs(det) > 1e-30:
        a = (r[0] * s[1][1] - r[1] * s[0][1]) / det
        t = (s[0][0] * r[1] - s[1][0] * r[0]) / det
        if t >= 0 and a >= 1:
            return a, t
        if t >= 0:  # eta > 1 is unphysical: eta = 1, fit t0 alone
            return 1.0, max(0.0, (r[1] - s[0][1]) / s[1][1])
    a = max(1.0, r[0] / s[0][0])  # t0 = 0
    return a, 0.0


def decode(cases):
    out = {}
    by = defaultdict(list)
    for c in cases:
        eta, t0 = basis(c, "eta"), basis(c, "t0_s")
        x = (1.0 / c["estimate_value"] - t0) * eta
        by[c["backend"]].append((c["id"], x, 1.0 / c["measured_value"]))
    for be, rows in sorted(by.items()):
        a, t = fit_line([(x, y) for _, x, y in rows])
        ins = [(1 / (a * x + t)) * y - 1 for _, x, y in rows]
        loo = []
        for i, (_, x, y) in enumerate(rows):
            ai, ti = fit_line([(x2, y2) for j, (_, x2, y2) in enumerate(rows) if j != i]) if len(rows) > 2 else (a, t)
            loo.append((1 / (ai * x + ti)) * y - 1)
        out[be] = {"eta": 1 / a, "t0_s": t, "n": len(rows), "in_sample": stats(ins), "loo": stats(loo),
                   "worst": sorted(zip([r[0] for r in rows], loo), key=lambda p: -abs(p[1]))[:3]}
    return out


def grid_fit(rows, predict, params):
    best = None
    for p in params:
        err = sum(math.log(predict(r, p) / r["measured_value"]) ** 2 for r in rows)
        if best is None or err < best[0]:
            best = (err, p)
    return best[1]


def prefill(cases):
    out = {}
    by = defaultdict(list)
    for c in cases:
        by[c["backend"]].append(c)

    def predict(c, p):
        share, cap = p
        f_old = basis(c, "effective_tflops")
        f_new = share * basis(c, "prefill_peak_tflops")
        if cap:
            f_new = min(f_new, cap)
        return c["estimate_value"] * f_new / f_old

    for be, rows in sorted(by.items()):
        caps = [None] + list(range(30, 205, 5)) if be == "llama.cpp-cuda" else [None]
        params = [(s / 200, cap) for s in range(10, 200) for cap in caps]
        p = grid_fit(rows, predict, params)
        ins = [predict(c, p) / c["measured_value"] - 1 for c in rows]
        loo = []
        for i, c in enumerate(rows):
            pi = grid_fit([r for j, r in enumerate(rows) if j != i], predict, params) if len(rows) > 2 else p
            loo.append(predict(c, pi) / c["measured_value"] - 1)
        out[be] = {"share": p[0], "cap_tflops": p[1], "n": len(rows), "in_sample": stats(ins), "loo": stats(loo)}
    return out


def train(cases):
    def predict(c, mfu):
        tokens = basis(c, "tokens_per_step")
        mfu_old = basis(c, "mfu")
        step_old = tokens / c["estimate_value"]
        compute_old = tokens * basis(c, "train_flops_per_token") / (mfu_old * basis(c, "peak_tflops") * 1e12)
        return tokens / (compute_old * mfu_old / mfu + step_old - compute_old)

    rows = cases
    params = [m / 1000 for m in range(50, 800)]
    p = grid_fit(rows, predict, params)
    ins = [predict(c, p) / c["measured_value"] - 1 for c in rows]
    loo = []
    for i, c in enumerate(rows):
        pi = grid_fit([r for j, r in enumerate(rows) if j != i], predict, params) if len(rows) > 1 else p
        loo.append(predict(c, pi) / c["measured_value"] - 1)
    return {"mfu": p, "n": len(rows), "in_sample": stats(ins), "loo": stats(loo)}


def main():
    d = json.load(open(sys.argv[1]))
    ok = [c for c in d["cases"] if c.get("error") is not None]
    dec = [c for c in ok if c["metric"].startswith("decode")]
    pre = [c for c in ok if c["metric"] == "prefill_tokens_per_s"]
    tr = [c for c in ok if c["metric"] in ("train_tokens_per_s", "step_s")]
    res = {"decode": decode(dec), "prefill": prefill(pre), "train": train(tr) if tr else None,
           "current": {}}
    # the errors of the constants now in the code, per backend and metric
    cur = defaultdict(list)
    for c in ok:
        cur[(c["metric"].split("_")[0], c["backend"])].append(c["error"])
    res["current"] = {f"{m} {b}": {"n": len(e), "median_p90": stats(e)} for (m, b), e in sorted(cur.items())}
    if "--markdown" in sys.argv:
        pct = lambda x: "-" if x is None else f"{x * 100:.1f} %"
        print("| figure | backend | cases | fitted constants | median (in sample) | p90 (in sample) | median (leave-one-out) | p90 (leave-one-out) |")
        print("|---|---|---:|---|---:|---:|---:|---:|")
        for be, v in res["decode"].items():
            print(f"| decode | {be} | {v['n']} | η {v['eta']:.3f}, t0 {v['t0_s'] * 1000:.2f} ms | {pct(v['in_sample'][0])} | "
                  f"{pct(v['in_sample'][1])} | {pct(v['loo'][0])} | {pct(v['loo'][1])} |")
        for be, v in res["prefill"].items():
            cap = f", ceiling {v['cap_tflops']} TFLOPS" if v["cap_tflops"] else ""
            print(f"| prefill | {be} | {v['n']} | share {v['share']:.3f} of the 16-bit peak{cap} | {pct(v['in_sample'][0])} | "
                  f"{pct(v['in_sample'][1])} | {pct(v['loo'][0])} | {pct(v['loo'][1])} |")
        if res["train"]:
            v = res["train"]
            print(f"| training | transformers | {v['n']} | MFU {v['mfu']:.3f} | {pct(v['in_sample'][0])} | "
                  f"{pct(v['in_sample'][1])} | {pct(v['loo'][0])} | {pct(v['loo'][1])} |")
        return
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
