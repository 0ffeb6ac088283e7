#!/usr/bin/env bash
# The whole test suite, as the README's test command and CI run it:
#   1. cargo test --workspace (unit, integration, property, snapshot tests of every crate);
#   2. the Python package: a venv in target/py-venv with maturin and pytest from PyPI, the
#      wheel built by maturin (debug profile: a release build costs minutes more on 2 cores and
#      tests the same code), installed, and pytest on python/tests, then on validation/gpu
#      when that folder exists;
#   3. the web page: the core compiled to wasm32 (web/build.sh), then the page end to end in
#      headless Chromium against the CLI's --json (web/e2e; playwright-core from npm, Debian's
#      /usr/bin/chromium). Each prints SKIPPED with the reason when this machine lacks the
#      wasm32 target, Chromium or Node (.ci/run installs them first).
# VRAMFIT_PY_RELEASE=1 builds the wheel with --release instead.
set -euo pipefail
cd "$(dirname "$0")/.."

# Tests that read ../shared (the published validation cases) fail when it is missing; a clone
# without it runs them as SKIPPED, said here once, loudly, and by each test.
if [ ! -d ../shared/validation ] && [ -z "${VRAMFIT_NO_SHARED:-}" ]; then
  echo "!! ../shared/validation is not beside this checkout: the tests against the published cases will be SKIPPED (VRAMFIT_NO_SHARED=1)" >&2
  export VRAMFIT_NO_SHARED=1
fi

echo "== cargo test --workspace"
cargo test --workspace

echo "== python: venv, maturin build, pytest"
PYTHON="${PYTHON:-python3}"
VENV="$PWD/target/py-venv"
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV" || {
    rm -rf "$VENV"
    echo "scripts/test.sh: '$PYTHON -m venv' failed: install Python's venv module (Debian: apt-get install python3-venv), or set PYTHON" >&2
    exit 1
  }
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "maturin>=1.9.4,<2" pytest
rm -rf target/wheels-test
profile=()
if [ "${VRAMFIT_PY_RELEASE:-0}" = "1" ]; then profile=(--release); fi
"$VENV/bin/maturin" build ${profile[@]+"${profile[@]}"} --strip -m crates/vramfit-py/Cargo.toml -o target/wheels-test
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps target/wheels-test/vramfit-*.whl
ls -l target/wheels-test/

# The CLI the Python tests compare with: the binary cargo test just built.
export VRAMFIT_BIN="$PWD/target/debug/vramfit"
# Run from target/ so `import vramfit` is the installed wheel, not the python/ sources; one
# pytest per folder, so their conftest.py and test module names cannot collide.
(cd target && "$VENV/bin/python" -m pytest -q ../python/tests)
if [ -d validation/gpu ]; then
  rc=0
  # From the repository root: the kit's tests read their plans by paths relative to it.
  "$VENV/bin/python" -m pytest -q validation/gpu || rc=$?
  # 5: no tests collected (a folder of scripts and data only).
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 5 ]; then exit "$rc"; fi
fi

echo "== web page: the core compiled to wasm32 (web/build.sh), then end to end in headless Chromium"
rc=0
bash web/build.sh || rc=$?
if [ "$rc" -eq 3 ]; then
  # build.sh exits 3 only when the wasm32 target cannot be installed; it printed SKIPPED.
  echo "SKIPPED: web page end-to-end test: web/vramfit.wasm was not built (no wasm32 target)"
elif [ "$rc" -ne 0 ]; then
  exit "$rc"
elif ! command -v "${CHROMIUM:-chromium}" >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "SKIPPED: web page end-to-end test: needs Chromium and Node/npm (apt-get install chromium chromium-driver nodejs npm; .ci/run installs them)"
else
  (cd web/e2e && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
  # The binary the page is compared with: the one cargo test just built.
  VRAMFIT_BIN="$PWD/target/debug/vramfit" node web/e2e/e2e.mjs
fi
