#!/usr/bin/env python3
"""Check that a golden-grid re-record moved formula text only.

Usage: only-formulas-moved.py OLD_GRID NEW_GRID OLD_DUMP NEW_DUMP

OLD_DUMP/NEW_DUMP are the whole JSON reports of every grid line, one a line, written by
`VRAMFIT_GOLDEN_DUMP=FILE cargo test -p vramfit-core --test tests golden` before and after the
change. The script checks that (1) the grids differ only in the digest column: the request,
its settings and its headline bytes are unchanged on every line, and (2) the reports are equal
once every "formula" string (and every "temp_formula") is blanked: no byte count, level,
note, plan or limit moved. It prints how many lines' digests moved and exits 1 otherwise.
"""
import json
import sys


def blank(v):
    if isinstance(v, dict):
        return {k: ("<formula>" if k in ("formula", "temp_formula") and isinstance(x, str) else blank(x)) for k, x in v.items()}
    if isinstance(v, list):
        return [blank(x) for x in v]
    return v


def main(old_grid, new_grid, old_dump, new_dump):
    old = open(old_grid).read().splitlines()
    new = open(new_grid).read().splitlines()
    assert len(old) == len(new), f"{len(old)} lines before, {len(new)} after"
    moved = 0
    for a, b in zip(old, new):
        ca, cb = a.split("\t"), b.split("\t")
        if ca[:-1] != cb[:-1]:
            print("a column other than the digest moved:\n-", a[:300], "\n+", b[:300])
            return 1
        moved += ca[-1] != cb[-1]
    da = open(old_dump).read().splitlines()
    db = open(new_dump).read().splitlines()
    assert len(da) == len(db) == len(old), (len(da), len(db), len(old))
    for i, (x, y) in enumerate(zip(da, db)):
        if x.startswith("error:") or y.startswith("error:"):
            if x != y:
                print(f"line {i}: error changed:\n- {x[:300]}\n+ {y[:300]}")
                return 1
            continue
        if blank(json.loads(x)) != blank(json.loads(y)):
            print(f"line {i}: something besides formula text moved")
            return 1
    print(f"{len(old)} grid lines: {moved} digests moved; the headline bytes of every line and every "
          f"report with its formula strings blanked are identical")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
