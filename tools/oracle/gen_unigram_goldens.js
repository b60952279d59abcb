#!/usr/bin/env node
'use strict';
// Goldens for the SentencePiece Unigram path (tokenizer/unigram_test.go and
// the generic TestGoldens): the xlmr fixture's tokenizer and synthetic
// variants described in tokenizer/testdata/specs.json.
//
//   node tools/oracle/gen_unigram_goldens.js --base testdata/fixtures/xlmr/tokenizer.json
//        writes tokenizer/testdata/tokenizers/syn-unigram.json.gz (xlmr + byte pieces, byte_fallback)
//   node tools/oracle/gen_unigram_goldens.js --charsmap
//        prints the synthetic precompiled_charsmap (base64) of the syn-unigram-graphemes spec
//   node tools/oracle/gen_unigram_goldens.js
//        writes tokenizer/testdata/goldens/{<spec>.jsonl.gz, sweep-<spec>.txt.gz} for the Unigram specs
//   node tools/oracle/gen_unigram_goldens.js --pool N --seed S
//        prints N random grapheme-pool strings as JSON lines (what the live Go test sends)
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const { execFileSync } = require('child_process');
const lib = require('./lib.js');

const INPUTS = path.join(__dirname, 'inputs');
const GOLDENS = path.join(lib.TESTDATA, 'goldens');
const SPECS = ['xlmr', 'syn-unigram-llama', 'syn-unigram-first', 'syn-unigram-never', 'syn-unigram-graphemes'];
const SWEEPS = ['xlmr'];

// ---- synthetic charsmap (Darts double array, SentencePiece layout) ----

// Keys chosen so that the output shows how the crate cut the text into
// grapheme clusters: a cluster shorter than 6 bytes whose first character is
// a key collapses to that key's replacement.
const CHARSMAP = [
  ['A', 'A'],
  ['B', 'b'],
  ['e\u0301', '\u00e9'],
  ['\uff21', 'A'],
  ['\uff21\u0301', '\u00c1'],
  ['\u00ad', ''],
  ['\u2122', 'TM'],
  ['\ufb03', 'ffi'],
  ['\u1100', 'L'],
  ['\u1161', 'V'],
  ['\u11a8', 'T'],
  ['\u0600', 'P'],
  ['\u{110bd}', 'Q'],
  ['\u00a9', 'C'],
  ['\u{1f1e6}', 'R'],
  ['\u0915', 'K'],
  ['\r', 'r'],
  ['\u0001', 'c'],
  ['\u200b', ' '],
  ['\u3000', '  '],
];

// Characters of every grapheme-break class (1 to 4 bytes), for random strings.
const POOL = [
  'a', 'b', 'x', 'e', 'A', 'B', ' ', ' ', '\t', '\n', '\r', '\u0001', '\u0085',
  '\u0301', '\u0323', '\u20d0', '\u{1d165}', '\u{e0100}', '\u{1e5ee}', '\u{10d69}', '\ufe0f', '\u{1f3fd}',
  '\u200d', '\u200b', '\u00ad', '\u3000', '\uff21', '\u2122', '\ufb03',
  '\u0600', '\u06dd', '\u{110bd}', '\u0903', '\u{1d166}', '\u0e33',
  '\u1100', '\u1161', '\u11a8', '\uac00', '\uac01',
  '\u00a9', '\u{1f600}', '\u{1f1e6}', '\u{1f1e7}',
  '\u0915', '\u094d', '\u0937', '\u093c', '\u0d15', '\u0d4d',
  '\u4e2d', '\u2603',
];

function buildCharsmap(entries) {
  // Trie of byte strings.
  const mkNode = () => ({ kids: new Map(), value: -1 });
  const root = mkNode();
  let blob = Buffer.alloc(0);
  for (const [k, v] of entries) {
    let n = root;
    for (const b of Buffer.from(k, 'utf8')) {
      if (!n.kids.has(b)) n.kids.set(b, mkNode());
      n = n.kids.get(b);
    }
    n.value = blob.length;
    blob = Buffer.concat([blob, Buffer.from(v, 'utf8'), Buffer.from([0])]);
  }
  const units = [];
  const used = [];
  const usedBase = new Set();
  const ensure = (i) => {
    while (units.length <= i) {
      units.push(0);
      used.push(false);
    }
  };
  // unit layout: label in bits 0-7, has_leaf bit 8, offset in bits 10-30.
  const place = (node, pos, label) => {
    const labels = [...node.kids.keys()];
    if (node.value >= 0) labels.push(0);
    if (labels.length === 0) {
      units[pos] = label;
      return;
    }
    let base = 256;
    for (;; base++) {
      if (usedBase.has(base)) continue;
      let ok = true;
      for (const c of labels) {
        const t = base ^ c;
        ensure(t);
        if (used[t] || t === 0) {
          ok = false;
          break;
        }
      }
      if (ok) break;
    }
    usedBase.add(base);
    const offset = pos ^ base;
    if (offset >= 1 << 21) throw new Error('charsmap too large for this simple builder');
    units[pos] = ((offset << 10) | (node.value >= 0 ? 1 << 8 : 0) | label) >>> 0;
    for (const c of labels) used[base ^ c] = true;
    if (node.value >= 0) units[base] = (node.value | 0x80000000) >>> 0;
    for (const [c, kid] of node.kids) place(kid, base ^ c, c);
  };
  ensure(0);
  used[0] = true;
  place(root, 0, 0);
  // The crate does not bounds-check its XOR walk: pad to whole 256-unit blocks.
  ensure(Math.ceil(units.length / 256) * 256 - 1);
  const head = Buffer.alloc(4 + 4 * units.length);
  head.writeUInt32LE(4 * units.length, 0);
  units.forEach((u, i) => head.writeUInt32LE(u, 4 + 4 * i));
  return Buffer.concat([head, blob]);
}

// ---- deterministic random strings ----

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function poolStrings(n, seed) {
  const rnd = mulberry32(seed);
  const out = [];
  for (let i = 0; i < n; i++) {
    const len = 1 + Math.floor(rnd() * 10);
    let s = '';
    for (let k = 0; k < len; k++) s += POOL[Math.floor(rnd() * POOL.length)];
    out.push(s);
  }
  return out;
}

// ---- cases ----

const STRATEGIES = ['LongestFirst', 'OnlyFirst', 'OnlySecond'];
const DIRECTIONS = ['Right', 'Left'];

function pairMatrix(pairs, lengths) {
  const cases = [];
  for (const [a, b] of pairs)
    for (const strategy of STRATEGIES)
      for (const direction of DIRECTIONS)
        for (const max_length of lengths) cases.push({ text: a, pair: b, trunc: { max_length, strategy, direction, stride: 0 } });
  return cases;
}

function casesFor(spec) {
  const fixtures = lib.readJSONL(path.join(INPUTS, 'fixtures.jsonl'));
  const corpus = lib.readJSONL(path.join(INPUTS, 'corpus_sample.jsonl.gz')).map((r) => r.text);
  const adversarial = require('./adversarial.js').concat(require('./adversarial_unigram.js'));
  const full = spec === 'xlmr';
  const plain = (texts) => texts.map((text) => ({ text }));
  const cases = [];
  cases.push(...fixtures.map((r) => (r.pair === undefined ? { text: r.text } : { text: r.text, pair: r.pair })));
  cases.push(...plain(adversarial), ...adversarial.map((text) => ({ text, add_special: false })));
  const handPairs = [
    ['', ''],
    ['', 'only the second sequence has words'],
    ['only the first sequence has words', ''],
    ['short query', 'a much longer passage that goes on and on with many words so that it needs truncating'],
    ['a much longer query that goes on and on with many many words in it', 'short passage'],
    ['Héllo  wörld <mask> ｑｕｅｒｙ', 'Passage with 中文 and ☃☃ and <mask> tokens'],
    ['what is the capital of France?', 'Paris is the capital and most populous city of France.'],
  ];
  const corpusPairs = [];
  for (let i = 0; i + 1 < corpus.length && corpusPairs.length < (full ? 12 : 3); i += 37) corpusPairs.push([corpus[i], corpus[i + 1]]);
  cases.push(...handPairs.map(([text, pair]) => ({ text, pair })));
  cases.push(...handPairs.map(([text, pair]) => ({ text, pair, add_special: false })));
  cases.push(...plain(corpus.slice(0, full ? corpus.length : 300)));
  const lengths = full ? [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 16, 24, 33, 64, 128] : [0, 1, 3, 4, 7, 16, 64];
  cases.push(...pairMatrix(handPairs.concat(corpusPairs), lengths));
  cases.push(...pairMatrix(handPairs.slice(3, 6), [0, 3, 8]).map((c) => Object.assign(c, { add_special: false })));
  for (const t of adversarial.filter((t) => t.length > 20).slice(0, full ? 12 : 4))
    for (const strategy of STRATEGIES)
      for (const direction of DIRECTIONS) for (const max_length of [0, 1, 2, 5, 16]) cases.push({ text: t, trunc: { max_length, strategy, direction, stride: 0 } });
  cases.push(...corpus.slice(0, 10).map((text) => ({ text: text.repeat(8), trunc: null })));
  if (spec === 'syn-unigram-graphemes') cases.push(...plain(poolStrings(3000, 1)));
  return cases;
}

// ---- main ----

function parseArgs(argv) {
  const a = {};
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i].replace(/^--/, '');
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) a[k] = true;
    else a[k] = argv[++i];
  }
  return a;
}

function writeBase(xlmrPath) {
  const t = JSON.parse(fs.readFileSync(xlmrPath, 'utf8'));
  const vocab = t.model.vocab.slice();
  const min = Math.min(...vocab.map((v) => v[1]));
  for (let b = 0; b < 256; b++) vocab.push([`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, min - 1]);
  vocab.push(['s', -1.0]); // a duplicate piece: its last id and score win
  vocab.push(['', -5.0]); // an empty piece is never matched
  // <mask> stays the last added token, now past the bytes.
  t.model = { type: 'Unigram', unk_id: 3, vocab, byte_fallback: true };
  t.added_tokens = t.added_tokens.map((a) => (a.content === '<mask>' ? Object.assign({}, a, { id: vocab.length }) : a));
  t.added_tokens.push({ id: vocab.length + 1, content: 'query:', single_word: false, lstrip: false, rstrip: true, normalized: true, special: false });
  const out = path.join(lib.TESTDATA, 'tokenizers', 'syn-unigram.json.gz');
  fs.writeFileSync(out, zlib.gzipSync(JSON.stringify(t), { level: 9 }));
  console.error(`${out}: ${vocab.length} pieces`);
}

// mergeMeta adds (or refreshes) the Unigram specs' entries of goldens/meta.json
// with the same probes as gen_goldens.js --meta, leaving the others alone.
function mergeMeta(specs) {
  const file = path.join(GOLDENS, 'meta.json');
  const meta = JSON.parse(fs.readFileSync(file, 'utf8'));
  const fresh = JSON.parse(execFileSync(process.execPath, [path.join(__dirname, 'gen_goldens.js'), '--meta', '--out', '-'], { maxBuffer: 1 << 26 }).toString());
  for (const s of specs) meta[s] = fresh[s];
  fs.writeFileSync(file, JSON.stringify(meta, null, 1) + '\n');
  console.error(`meta.json: ${specs.join(', ')}`);
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  if (a.base) return writeBase(a.base);
  if (a.charsmap) return process.stdout.write(buildCharsmap(CHARSMAP).toString('base64') + '\n');
  if (a.pool) {
    const lines = poolStrings(parseInt(a.pool, 10), parseInt(a.seed || '1', 10)).map((text) => JSON.stringify({ text }));
    return process.stdout.write(lines.join('\n') + '\n');
  }
  const only = a.spec ? [a.spec] : SPECS;
  if (a.meta) return mergeMeta(only);
  for (const spec of only) {
    const h = lib.loadTokenizer(spec);
    const res = [];
    for (const c of casesFor(spec)) res.push(Object.assign({}, c, await lib.encodeCase(h, c)));
    lib.writeJSONL(path.join(GOLDENS, spec + '.jsonl.gz'), res);
    console.error(`${spec}: ${res.length} cases`);
  }
  for (const spec of SWEEPS.filter((s) => only.includes(s))) {
    const file = path.join(GOLDENS, `sweep-${spec}.txt.gz`);
    execFileSync(process.execPath, [path.join(__dirname, 'gen_goldens.js'), '--sweep', spec, '--max', '3ffff', '--out', file], { stdio: 'inherit' });
    console.error(`sweep ${spec} done`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
