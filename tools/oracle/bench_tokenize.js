// Times the Hugging Face tokenizers Rust crate (through its official Node
// binding) on the nlp-corpus sentences, for scripts/bench-tokenize.sh.
//
//   node tools/oracle/bench_tokenize.js --tokenizer tokenizer.json --corpus <builds dir> [--iters 3]
//
// Prints one JSON line. "batch_1thread" is encodeBatch with the crate's own
// thread pool limited to one thread (RAYON_NUM_THREADS=1, set by the caller):
// the closest the binding gets to the bare crate, single-threaded. "batch" is
// encodeBatch with the default pool. JS-side conversion of the results is
// included in both, as the binding cannot return without it.
'use strict';
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require(path.join(__dirname, '..', 'node', 'node_modules', 'tokenizers'));

function arg(name, def) {
  const i = process.argv.indexOf('--' + name);
  return i >= 0 ? process.argv[i + 1] : def;
}

async function main() {
  const tok = Tokenizer.fromFile(arg('tokenizer'));
  // Whole sentences, unpadded: the same work sie's benchmark does.
  tok.disableTruncation();
  tok.disablePadding();
  const dir = arg('corpus');
  const iters = Number(arg('iters', '3'));
  const texts = [];
  for (const f of fs.readdirSync(dir).filter((f) => /^doc-\d+\.json$/.test(f)).sort()) {
    texts.push(...JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')));
  }
  const bytes = texts.reduce((n, s) => n + Buffer.byteLength(s), 0);
  let best = Infinity;
  let tokens = 0;
  for (let i = 0; i < iters; i++) {
    const start = process.hrtime.bigint();
    const encs = await tok.encodeBatch(texts, { addSpecialTokens: true });
    const secs = Number(process.hrtime.bigint() - start) / 1e9;
    best = Math.min(best, secs);
    tokens = encs.reduce((n, e) => n + e.getIds().length, 0);
  }
  console.log(JSON.stringify({
    runtime: 'tokenizers (Rust, Node binding) encodeBatch',
    tokenizer: path.basename(arg('tokenizer')),
    threads: process.env.RAYON_NUM_THREADS || 'default',
    sentences: texts.length, bytes, tokens, seconds: best,
    mb_per_s: bytes / best / 1e6, tokens_per_s: tokens / best,
  }));
}
main().catch((e) => { console.error(e); process.exit(1); });
