#!/usr/bin/env node
'use strict';
// Goldens for the BPE paths (tokenizer/bpe_test.go and the generic
// TestGoldens): the real byte-level BPE files (qwen and modernbert fixtures,
// full Qwen3, a GPT-2-style file) and synthetic variants described in
// tokenizer/testdata/specs.json.
//
//   node tools/oracle/gen_bpe_goldens.js --testdata
//        writes tokenizer/testdata/tokenizers/syn-bpe-{affix,fallback}.json.gz, classic
//        (not byte-level) BPE files derived from the committed qwen fixture vocabulary
//   node tools/oracle/gen_bpe_goldens.js
//        writes tokenizer/testdata/goldens/{<spec>.jsonl.gz, sweephash-<spec>.txt} for the BPE specs
//   node tools/oracle/gen_bpe_goldens.js --spec qwen
//        only that spec (its golden, and its sweep when it has one)
//   node tools/oracle/gen_bpe_goldens.js --meta
//        adds (or refreshes) the BPE specs' entries of tokenizer/testdata/goldens/meta.json
//        (vocabulary size, token_to_id and id_to_token probes), leaving the others alone
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const lib = require('./lib.js');

const INPUTS = path.join(__dirname, 'inputs');
const GOLDENS = path.join(lib.TESTDATA, 'goldens');
const TOKENIZERS = path.join(lib.TESTDATA, 'tokenizers');

// Keep in sync with bpeSpecs / bpeSweepSpecs in tokenizer/bpe_test.go.
const SPECS = ['qwen', 'modernbert', 'qwen3', 'cohere', 'syn-roberta', 'syn-llama3', 'syn-bpe-affix', 'syn-bpe-fallback'];
const FULL = ['qwen', 'modernbert', 'qwen3', 'cohere'];
const SWEEPS = ['qwen', 'modernbert', 'qwen3', 'cohere', 'syn-roberta', 'syn-llama3', 'syn-bpe-affix', 'syn-bpe-fallback'];

function parseArgs(argv) {
  const a = {};
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (!k.startsWith('--')) throw new Error('unexpected argument ' + k);
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) a[k.slice(2)] = true;
    else a[k.slice(2)] = argv[++i];
  }
  return a;
}

// ---- synthetic classic BPE files ----

// GPT-2's byte-to-character table, inverted.
function byteDecoder() {
  const bs = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n++;
    }
  }
  const m = new Map();
  bs.forEach((b, i) => m.set(String.fromCodePoint(cs[i]), b));
  return m;
}

// textTokens decodes the byte-level vocabulary of the qwen fixture (first
// maxID ids) into plain text tokens without whitespace, and keeps the
// merges among them.
function textVocab(maxID) {
  const src = JSON.parse(lib.readMaybeGz(path.join(TOKENIZERS, 'qwen-fixture.json.gz')).toString('utf8'));
  const dec = byteDecoder();
  const toText = (t) => {
    const bytes = [];
    for (const c of t) {
      if (!dec.has(c)) return null;
      bytes.push(dec.get(c));
    }
    const s = Buffer.from(bytes).toString('utf8');
    if (Buffer.byteLength(s, 'utf8') !== bytes.length || s.includes('\ufffd') || /\s/u.test(s)) return null;
    return s;
  };
  const vocab = new Map();
  for (const [t, id] of Object.entries(src.model.vocab)) {
    if (id >= maxID) continue;
    const s = toText(t);
    if (s !== null && !vocab.has(s)) vocab.set(s, id);
  }
  const merges = [];
  for (const [a, b] of src.model.merges) {
    const x = toText(a);
    const y = toText(b);
    if (x === null || y === null || !vocab.has(x) || !vocab.has(y) || !vocab.has(x + y)) continue;
    merges.push([x, y]);
  }
  return { tokens: [...vocab.keys()], merges, src };
}

function writeTokenizer(name, tok) {
  const file = path.join(TOKENIZERS, name + '.json.gz');
  fs.writeFileSync(file, zlib.gzipSync(JSON.stringify(tok), { level: 9 }));
  console.error(`${file}: ${Object.keys(tok.model.vocab).length} tokens, ${tok.model.merges.length} merges`);
}

const special = (id, content, extra) =>
  Object.assign({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }, extra || {});

function genTestdata() {
  const { tokens, merges } = textVocab(3000);
  // Characters left out of the vocabularies, so that unk and byte fallback happen.
  const dropped = new Set(['q', 'Q', '7', 'é']);
  const keep = (t) => ![...t].some((c) => dropped.has(c));
  const base = tokens.filter(keep);
  const baseMerges = merges.filter(([a, b]) => keep(a) && keep(b));

  // syn-bpe-affix: continuing_subword_prefix "##", end_of_word_suffix "</w>",
  // unk with fuse_unk, legacy "a b" merges.
  {
    const vocab = {};
    let id = 0;
    for (const s of ['[UNK]', '[CLS]', '[SEP]', '[PAD]', '[MASK]']) vocab[s] = id++;
    for (const t of base) for (const v of [t, '##' + t, t + '</w>', '##' + t + '</w>']) if (!(v in vocab)) vocab[v] = id++;
    const m = [];
    for (const [a, b] of baseMerges) m.push(`${a} ##${b}`, `${a} ##${b}</w>`, `##${a} ##${b}`, `##${a} ##${b}</w>`);
    writeTokenizer('syn-bpe-affix', {
      version: '1.0', truncation: null, padding: null,
      added_tokens: [special(0, '[UNK]'), special(1, '[CLS]'), special(2, '[SEP]'), special(3, '[PAD]'), special(4, '[MASK]', { lstrip: true })],
      normalizer: { type: 'NFKC' },
      pre_tokenizer: { type: 'Sequence', pretokenizers: [
        { type: 'Split', pattern: { String: ' ' }, behavior: 'Removed', invert: false },
        { type: 'Punctuation', behavior: 'MergedWithPrevious' },
        { type: 'Digits', individual_digits: false },
      ] },
      post_processor: { type: 'BertProcessing', sep: ['[SEP]', 2], cls: ['[CLS]', 1] },
      decoder: { type: 'BPEDecoder', suffix: '</w>' },
      model: { type: 'BPE', dropout: null, unk_token: '[UNK]', continuing_subword_prefix: '##', end_of_word_suffix: '</w>',
        fuse_unk: true, byte_fallback: false, ignore_merges: false, vocab, merges: m },
    });
  }
  // syn-bpe-fallback: byte_fallback (without <0xF0>, so 4-byte characters
  // become <unk>), unk without fusing, ignore_merges, tuple merges.
  {
    const vocab = {};
    let id = 0;
    for (const s of ['<unk>', '<s>', '</s>']) vocab[s] = id++;
    for (let b = 0; b < 256; b++) {
      if (b === 0xf0) continue;
      vocab['<0x' + b.toString(16).toUpperCase().padStart(2, '0') + '>'] = id++;
    }
    for (const t of base) if (!(t in vocab)) vocab[t] = id++;
    // Whole words in the vocabulary that merges alone would not produce.
    for (const w of ['theworld', 'hello', 'Hello', 'tokenizer']) if (!(w in vocab)) vocab[w] = id++;
    writeTokenizer('syn-bpe-fallback', {
      version: '1.0', truncation: null, padding: null,
      added_tokens: [special(0, '<unk>'), special(1, '<s>'), special(2, '</s>')],
      normalizer: null,
      pre_tokenizer: { type: 'Sequence', pretokenizers: [
        { type: 'Split', pattern: { Regex: '\\s+' }, behavior: 'MergedWithNext', invert: false },
        { type: 'Split', pattern: { Regex: '[A-Za-z]+' }, behavior: 'Contiguous', invert: true },
        { type: 'Digits', individual_digits: true },
      ] },
      post_processor: { type: 'RobertaProcessing', sep: ['</s>', 2], cls: ['<s>', 1], trim_offsets: false, add_prefix_space: false },
      decoder: { type: 'Sequence', decoders: [{ type: 'ByteFallback' }, { type: 'Fuse' }] },
      model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null,
        fuse_unk: false, byte_fallback: true, ignore_merges: true, vocab, merges: baseMerges },
    });
  }
}

// ---- goldens ----

const STRATEGIES = ['LongestFirst', 'OnlyFirst', 'OnlySecond'];
const DIRECTIONS = ['Right', 'Left'];

function pairMatrix(pairs, lengths) {
  const cases = [];
  for (const [a, b] of pairs) {
    for (const strategy of STRATEGIES) {
      for (const direction of DIRECTIONS) {
        for (const max_length of lengths) cases.push({ text: a, pair: b, trunc: { max_length, strategy, direction, stride: 0 } });
      }
    }
  }
  return cases;
}

function loadInputs() {
  const fixtures = lib.readJSONL(path.join(INPUTS, 'fixtures.jsonl'));
  const corpus = lib.readJSONL(path.join(INPUTS, 'corpus_sample.jsonl.gz')).map((r) => r.text);
  const adversarial = require('./adversarial.js').concat(require('./adversarial_bpe.js'));
  const fixtureTexts = fixtures.filter((r) => r.pair === undefined).map((r) => r.text);
  const fixturePairs = fixtures.filter((r) => r.pair !== undefined).map((r) => [r.text, r.pair]);
  const handPairs = [
    ['', ''],
    ['', 'only the second sequence has words'],
    ['only the first sequence has words', ''],
    ['short query', 'a much longer passage that goes on and on with many words so that it needs truncating'],
    ['a much longer query that goes on and on with many many words in it', 'short passage'],
    ["What's the capital of France?", 'Paris is the capital and most populous city of France.\n\nIt has 2,102,650 residents.'],
    ['東京は？ 😀', 'Passage with 中文 and emoji 😀 and <|endoftext|> [MASK] tokens'],
    ['  spaced   query  ', '\ttabbed\r\npassage  '],
  ];
  const corpusPairs = [];
  for (let i = 0; i + 1 < corpus.length && corpusPairs.length < 12; i += 37) corpusPairs.push([corpus[i], corpus[i + 1]]);
  return { fixtureTexts, fixturePairs, corpus, adversarial, handPairs, corpusPairs };
}

function casesFor(spec, inp) {
  const plain = (texts) => texts.map((text) => ({ text }));
  const pairs = (ps) => ps.map(([text, pair]) => ({ text, pair }));
  const full = FULL.includes(spec);
  const cases = [];
  cases.push(...plain(inp.fixtureTexts), ...pairs(inp.fixturePairs));
  cases.push(...plain(inp.adversarial));
  cases.push(...inp.adversarial.map((text) => ({ text, add_special: false })));
  cases.push(...pairs(inp.handPairs), ...pairs(inp.handPairs).map((c) => Object.assign(c, { add_special: false })));
  cases.push(...plain(inp.corpus.slice(0, full ? 600 : 200)));
  const lengths = full ? [0, 1, 2, 3, 4, 5, 7, 9, 16, 33, 64] : [0, 1, 3, 4, 7, 16, 64];
  const matrixPairs = full
    ? inp.handPairs.concat(inp.fixturePairs.slice(0, 4), inp.corpusPairs.slice(0, 8))
    : inp.handPairs.concat(inp.corpusPairs.slice(0, 3));
  cases.push(...pairMatrix(matrixPairs, lengths));
  cases.push(...pairMatrix(inp.handPairs.slice(3, 6), [0, 3, 8]).map((c) => Object.assign(c, { add_special: false })));
  cases.push(...inp.corpus.slice(0, 10).map((text) => ({ text: text.repeat(8), trunc: null })));
  return cases;
}

async function encodeAll(h, cases) {
  const out = [];
  for (const c of cases) out.push(Object.assign({}, c, await lib.encodeCase(h, c)));
  return out;
}

// Code point sweep, hashed: byte-level tokens differ for nearly every code
// point, so the plain sweep format of gen_goldens.js would not compress.
// Each code point (surrogates skipped) is encoded without special tokens in
// the contexts of sweep_test.go, one line "ids;offsets" per encoding as in
// gen_goldens.js; the lines are hashed (SHA-256) per chunk of SWEEP_CHUNK
// code points. File: "# sweephash <spec> max=0x.. chunk=N" then
// "<chunk start hex>\t<sha256 hex>" lines. The live Go test
// (TestBPEOracleLiveSweep) compares code point by code point instead.
const SWEEP_CHUNK = 4096;
const isSurrogate = (cp) => cp >= 0xd800 && cp <= 0xdfff;
const sweepContexts = [(c) => c, (c) => 'a' + c + 'b c'];
async function sweepHash(spec, max) {
  const crypto = require('crypto');
  const h = lib.loadTokenizer(spec);
  const out = [`# sweephash ${spec} max=0x${max.toString(16)} chunk=${SWEEP_CHUNK}`];
  for (let start = 0; start <= max; start += SWEEP_CHUNK) {
    const hash = crypto.createHash('sha256');
    for (let cp = start; cp < start + SWEEP_CHUNK && cp <= max; cp++) {
      if (isSurrogate(cp)) continue;
      const c = String.fromCodePoint(cp);
      for (const ctx of sweepContexts) {
        const r = await lib.encodeCase(h, { text: ctx(c), add_special: false });
        if (r.error) throw new Error(r.error);
        hash.update(r.ids.join(',') + ';' + r.offsets.map(([a, b]) => a + '-' + b).join(',') + '\n');
      }
    }
    out.push(`${start.toString(16)}\t${hash.digest('hex')}`);
  }
  return out.join('\n') + '\n';
}

// ---- vocabulary probes (TestVocabularyMeta) ----

const META_TOKENS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>', '[CLS]', '[SEP]', '[MASK]', '[UNK]', '<unk>', '<s>', '</s>',
  '<BOS_TOKEN>', '<EOP_TOKEN>', '<PAD>', 'the', '\u0120the', '\u0120', '\u0120\u0120', 'Hello', 'hello', '##ing', 'ing</w>', '##ing</w>',
  '<0x41>', '<0xF0>', 'theworld', 'a', '!', '\u010a', 'no-such-token', ''];
const META_IDS = [0, 1, 2, 3, 4, 5, 7, 100, 255, 256, 257, 1000, 2999, 3000, 7999, 8000, 8001, 8002, 8003, 8004, 8005,
  75499, 75500, 75507, 75508, 151642, 151643, 151644, 151668, 151669, 151670, 999999];

function mergeMeta(specs) {
  const file = path.join(GOLDENS, 'meta.json');
  const meta = JSON.parse(fs.readFileSync(file, 'utf8'));
  for (const spec of specs) {
    const t = lib.loadTokenizer(spec).base;
    meta[spec] = {
      vocab_size: t.getVocabSize(true),
      token_to_id: Object.fromEntries(META_TOKENS.map((k) => [k, t.tokenToId(k)])),
      id_to_token: Object.fromEntries(META_IDS.map((i) => [String(i), t.idToToken(i)])),
    };
  }
  fs.writeFileSync(file, JSON.stringify(meta, null, 1) + '\n');
  console.error(`meta.json: ${specs.join(', ')}`);
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  if (a.testdata) return genTestdata();
  if (a.meta) return mergeMeta(a.spec ? [a.spec] : SPECS);
  const inp = loadInputs();
  const specs = a.spec ? [a.spec] : SPECS;
  for (const spec of specs) {
    const res = await encodeAll(lib.loadTokenizer(spec), casesFor(spec, inp));
    lib.writeJSONL(path.join(GOLDENS, spec + '.jsonl.gz'), res);
    console.error(`${spec}: ${res.length} cases`);
    if (SWEEPS.includes(spec)) {
      fs.writeFileSync(path.join(GOLDENS, `sweephash-${spec}.txt`), await sweepHash(spec, 0x3ffff));
      console.error(`sweep ${spec} done`);
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
