#!/usr/bin/env bash
# Build the web page: the vramfit core compiled to WebAssembly, copied beside index.html.
#   bash web/build.sh          then serve web/ (python3 -m http.server -d web) and open it.
# Exit 3 (and a SKIPPED line) when the wasm32 target cannot be had; any other failure exits
# non-zero as usual.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=wasm32-unknown-unknown
if ! rustup target list --installed 2>/dev/null | grep -qx "$TARGET"; then
  echo "== adding the $TARGET target (rustup)"
  if ! rustup target add "$TARGET"; then
    echo "SKIPPED: the $TARGET target could not be installed; the web page was not built"
    exit 3
  fi
fi

echo "== cargo build -p vramfit-wasm --target $TARGET --profile wasm"
cargo build -p vramfit-wasm --target "$TARGET" --profile wasm
cp "target/$TARGET/wasm/vramfit_wasm.wasm" web/vramfit.wasm

raw=$(wc -c < web/vramfit.wasm)
gz=$(gzip -9 -c web/vramfit.wasm | wc -c)
echo "web/vramfit.wasm: $raw bytes raw, $gz bytes gzip -9"
# The page must stay light: fail the build past 1.5 MB raw or 500 KB gzip.
if [ "$raw" -gt 1500000 ] || [ "$gz" -gt 500000 ]; then
  echo "error: web/vramfit.wasm is over budget (1.5 MB raw, 500 KB gzip)" >&2
  exit 1
fi
