#!/usr/bin/env bash
# The one command to give the device tool (a lent GPU machine: torch, transformers, peft and
# accelerate installed, no network). It measures the `device` plan for about 8.5 minutes and
# leaves everything under $OUT:
#
#   device tool:  command    bash validation/gpu/run-on-device.sh
#                 timeout_s  570      (the run stops itself by 540 s; the files under $OUT come back)
#                 carry      nothing  (the kit is plain Python in the work tree; no venv, no build)
#   then here:    python3 validation/gpu/merge.py <files_at>/gpu-results.jsonl --report
#                 bash validation/accuracy.sh      # ACCURACY.md gets the "measured on our GPU" section
#
# $OUT/gpu-results.jsonl  one JSON line per case, appended as each finishes (a cut-off run keeps them)
# $OUT/measure.log        the run's stdout and stderr (warnings, tracebacks)
# $OUT/env.txt            nvidia-smi, Python and package versions, before the run
#
# Budget: the whole lent session has 15 minutes of device time, machine start included (a few
# minutes), so one call of ~9 minutes is all there is. No case starts after BUDGET_S; a case
# still running at STOP_S is killed; the run stops early after 4 failures in a row (a fault of
# the kit or the machine, worth fixing before spending the rest). Override with the variables
# below (PLAN=tiny for a 1-minute smoke test).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT="${OUT:-validation/gpu/results}"
PLAN="${PLAN:-device}"
BUDGET_S="${BUDGET_S:-450}"
STOP_S="${STOP_S:-510}"
mkdir -p "$OUT"

py=""
for cand in python3 python; do
  if command -v "$cand" >/dev/null 2>&1 && "$cand" -c "import torch, transformers, peft" >/dev/null 2>&1; then
    py="$cand"
    break
  fi
done
if [ -z "$py" ]; then
  echo "no Python here imports torch, transformers and peft: nothing measured" | tee "$OUT/measure.log"
  exit 2
fi

{
  date -u
  nvidia-smi || echo "nvidia-smi failed"
  "$py" - <<'EOF'
import torch, transformers, peft
print("python", __import__("sys").version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda,
      "transformers", transformers.__version__, "peft", peft.__version__, "cuda available", torch.cuda.is_available())
try:
    import pynvml  # noqa: F401
    print("pynvml importable")
except Exception as e:  # noqa: BLE001
    print("no pynvml:", e)
EOF
} > "$OUT/env.txt" 2>&1
head -c 3000 "$OUT/env.txt"

t0=$(date +%s)
measure() {  # $1: how each case's process starts; progress on stdout (the tool returns the last
             # 12,000 characters), stderr (warnings, tracebacks) only in the log
  local left=$((STOP_S - ($(date +%s) - t0)))
  timeout -k 10 $((left + 20)) "$py" validation/gpu/measure.py --plan "$PLAN" --device cuda --start "$1" \
    --out "$OUT/gpu-results.jsonl" --budget-s $((BUDGET_S - ($(date +%s) - t0))) --stop-s "$left" \
    2>>"$OUT/measure.log" | tee -a "$OUT/measure.log"
  return "${PIPESTATUS[0]}"
}
measure fork
rc=$?
if [ "$rc" = 1 ] && ! grep -q '"status": "ok"' "$OUT/gpu-results.jsonl" 2>/dev/null; then
  # nothing measured and the first cases failed: if CUDA cannot start in a forked process here,
  # fresh interpreters still can (the results file keeps the failures; merge takes the latest)
  echo "no case measured with forked processes: again with --start spawn"
  measure spawn
  rc=$?
fi
[ "$rc" = 0 ] || tail -n 20 "$OUT/measure.log"
n_ok=$(grep -c '"status": "ok"' "$OUT/gpu-results.jsonl" 2>/dev/null || true)
echo "measure.py exit $rc; ${n_ok:-0} cases ok in $OUT/gpu-results.jsonl"
exit "$rc"
