#!/usr/bin/env bash
# sie on an NVIDIA GPU (xla:cuda), in one short visit to a GPU machine that has
# no Go toolchain and no network.
#
#   scripts/gpu-check.sh build [BUNDLE]   # here, with Go: binaries built with -tags xla
#   scripts/gpu-check.sh run   [BUNDLE]   # on the GPU machine, from the repository root
#
# BUNDLE defaults to .cache/gpu-bundle (sie.test and siebench, stripped).
#
# run
#   1. checks for a GPU (nvidia-smi) and the PJRT CUDA plugin: $SIE_XLA_PLUGIN,
#      else xla_cuda_plugin.so under a jax_plugins folder of python3's
#      site-packages; sets XLA_FLAGS to the CUDA data of the nvidia-* packages
#      beside it and LD_LIBRARY_PATH to their libraries;
#   2. runs every fixture test on xla:cuda in float32 and the precision tests
#      (bfloat16 and float16 weights against float32 on the same GPU);
#   3. times the bge-base-shaped random BERT (written with numpy when absent):
#      64 texts of 50 tokens (f), 16 texts of 512 tokens (c), single queries (d),
#      float32 and bfloat16, one JSON line each in bench-compare's format.
#   Exit status: 0 all passed; 1 a test failed; 2 no GPU; 3 no PJRT CUDA plugin;
#   4 the bundle is missing.
# Environment: GPU_CHECK_TIMEOUT (seconds per step, 300), MIN_TIME_MS (3000),
# GPU_CHECK_CACHE (the random model and workloads, .cache/bench).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
MODE="${1:-}"
BUNDLE="$(realpath -m "${2:-$ROOT/.cache/gpu-bundle}")"
log() { printf '[gpu-check] %s\n' "$*" >&2; }
die() { local code="$1"; shift; printf '[gpu-check] ERROR: %s\n' "$*" >&2; exit "$code"; }

build() {
  mkdir -p "$BUNDLE"
  log "building with -tags xla into $BUNDLE"
  # -trimpath: the fixtures are then found relative to the working directory
  # (see run), wherever the repository lies on the GPU machine.
  go test -c -tags xla -trimpath -ldflags='-s -w' -o "$BUNDLE/sie.test" .
  go build -tags xla -trimpath -ldflags='-s -w' -o "$BUNDLE/siebench" ./tools/bench/siebench
  ls -l "$BUNDLE" >&2
}

find_plugin() {
  if [[ -n "${SIE_XLA_PLUGIN:-}" ]]; then
    [[ -f "$SIE_XLA_PLUGIN" ]] || die 3 "SIE_XLA_PLUGIN=$SIE_XLA_PLUGIN: no such file"
    printf '%s\n' "$SIE_XLA_PLUGIN"
    return
  fi
  local sp
  if command -v python3 >/dev/null 2>&1; then
    while IFS= read -r sp; do
      for f in "$sp"/jax_plugins/*/xla_cuda_plugin.so; do
        [[ -f "$f" ]] && { printf '%s\n' "$f"; return; }
      done
    done < <(python3 -c 'import site, sys; print("\n".join(site.getsitepackages() + [site.getusersitepackages()]))' 2>/dev/null || true)
  fi
  die 3 "PJRT CUDA plugin not found: set SIE_XLA_PLUGIN to xla_cuda_plugin.so (pip package jax-cuda13-pjrt)"
}

run() {
  command -v nvidia-smi >/dev/null 2>&1 || die 2 "no NVIDIA GPU here (nvidia-smi not found)"
  local gpu
  gpu="$(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | head -n1)" || true
  [[ -n "$gpu" ]] || die 2 "nvidia-smi lists no GPU"
  log "GPU: $gpu"
  local plugin site nv
  plugin="$(find_plugin)"
  log "PJRT plugin: $plugin"
  [[ -x "$BUNDLE/sie.test" && -x "$BUNDLE/siebench" ]] || die 4 "no bundle in $BUNDLE: run 'scripts/gpu-check.sh build' where Go is installed"

  site="$(dirname "$(dirname "$(dirname "$plugin")")")" # …/site-packages
  for nv in "$site"/nvidia/cu13 "$site"/nvidia/cuda_nvcc; do
    if [[ -d "$nv" ]]; then export XLA_FLAGS="${XLA_FLAGS:-} --xla_gpu_cuda_data_dir=$nv"; break; fi
  done
  local libs
  libs="$(find "$site/nvidia" -maxdepth 3 -type d -name lib 2>/dev/null | paste -sd: || true)"
  [[ -n "$libs" ]] && export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export SIE_BACKEND=xla:cuda SIE_XLA_PLUGIN="$plugin" GOMLX_NO_AUTO_INSTALL=1
  local timeout="${GPU_CHECK_TIMEOUT:-300}" status=0

  # The test binary was built with -trimpath: it looks for the fixtures at
  # github.com/sie-project/sie/testdata under its working directory.
  local work
  work="$(mktemp -d)"
  mkdir -p "$work/github.com/sie-project"
  ln -s "$ROOT" "$work/github.com/sie-project/sie"
  ln -s "$ROOT/tools" "$work/tools"
  log "fixture and precision tests on xla:cuda"
  (cd "$work" && timeout "$timeout" "$BUNDLE/sie.test" -test.count=1 -test.v \
    -test.run 'Fixture|Packing|BatchInvariance|RealMiniLM|Rerank|Splade|Colbert|Precision') >"$work/tests.log" 2>&1 || status=1
  grep -E '^(--- |ok|PASS|FAIL)' "$work/tests.log" >&2 || true
  [[ $status == 0 ]] || { log "tests failed; last lines:"; tail -n 40 "$work/tests.log" >&2; }

  local bench="${GPU_CHECK_CACHE:-$ROOT/.cache/bench}"
  local bge="$bench/bge-base-random"
  if [[ ! -s "$bge/model.safetensors" ]]; then
    log "writing the random-weight bge-base-shaped BERT"
    python3 tools/bench/make_random_bert.py "$bge" --tokenizer testdata/fixtures/real-minilm/tokenizer.json
  fi
  "$BUNDLE/siebench" --emit-workloads "$bench/workloads" --tokenizer testdata/fixtures/real-minilm/tokenizer.json \
    --sentences tools/bench/sentences.txt
  local w p
  for p in float32 bfloat16; do
    for w in f c d; do
      timeout "$timeout" "$BUNDLE/siebench" --backend xla:cuda --precision "$p" --workload "$w" \
        --texts "$bench/workloads/$w.txt" --model "$bge" --model-name bge-base-random --threads "$(nproc)" \
        --cpu "$gpu" --min-time "${MIN_TIME_MS:-3000}ms" --iters 50 || { log "bench $p $w failed"; status=1; }
    done
  done
  rm -rf "$work"
  return "$status"
}

case "$MODE" in
  build) build ;;
  run) run ;;
  *) die 64 "usage: scripts/gpu-check.sh build|run [BUNDLE]" ;;
esac
