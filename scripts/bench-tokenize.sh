#!/usr/bin/env bash
# Tokenizer speed: sie's pure-Go tokenizer vs the Hugging Face Rust crate
# (through its Node binding) on the same ~100k nlp-corpus sentences, with the
# real all-MiniLM-L6-v2 tokenizer.json, in one run.
#
#   scripts/bench-tokenize.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
scripts/setup-test-deps.sh
# shellcheck source=/dev/null
source .cache/test-env.sh
CORPUS="$ROOT/.cache/corpus"
if [[ ! -d "$CORPUS/package/builds" ]]; then
  mkdir -p "$CORPUS"
  (cd "$CORPUS" && npm pack --silent nlp-corpus@4.4.0 >/dev/null && tar xzf nlp-corpus-4.4.0.tgz)
fi
# The real tokenizer files of tokenizer.BenchmarkTokenizeCorpus.
TOKS="$ROOT/.cache/bench-tokenizers"
mkdir -p "$TOKS"
cp "$SIE_MINILM_DIR/tokenizer.json" "$TOKS/minilm.json"
cp "$ROOT/testdata/fixtures/xlmr/tokenizer.json" "$TOKS/xlmr.json"
for f in qwen3 cohere; do gunzip -c "$ROOT/tokenizer/testdata/tokenizers/$f.json.gz" >"$TOKS/$f.json"; done
for f in minilm xlmr qwen3 cohere; do
  echo "[bench] Rust crate, $f, 1 thread" >&2
  RAYON_NUM_THREADS=1 node tools/oracle/bench_tokenize.js --tokenizer "$TOKS/$f.json" --corpus "$CORPUS/package/builds"
  echo "[bench] Rust crate, $f, default threads" >&2
  node tools/oracle/bench_tokenize.js --tokenizer "$TOKS/$f.json" --corpus "$CORPUS/package/builds"
done
echo "[bench] sie tokenizer" >&2
SIE_TOKENIZER_CORPUS="$CORPUS/package/builds" go test -run '^$' -bench BenchmarkTokenizeCorpus -benchtime 3x ./tokenizer/ | grep -E '^Benchmark'
