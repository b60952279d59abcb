#!/usr/bin/env node
// Generates tokenizer/unicode_tables.go by probing the Hugging Face tokenizers
// Node binding (the Rust crate) one code point at a time.
//
// Why probe instead of using Go's unicode / x/text tables: the Rust crate mixes
// several Unicode editions (unicode_categories 0.1.1 and
// unicode-normalization-alignments 0.1.12 carry Unicode 9.0 data; Rust's std
// carries a much newer edition for is_whitespace / to_lowercase; the regex
// crate has its own \w tables). Go ships Unicode 15.0. Reading the behaviour
// off the oracle gives tables that are exact by construction.
//
// Usage: node tools/oracle/gen_unicode_tables.js [out.go]
'use strict';
const fs = require('fs');
const path = require('path');
const tk = require(path.join(__dirname, '..', 'node', 'node_modules', 'tokenizers'));

const MAX_CP = 0x10ffff;
const out = process.argv[2] || path.join(__dirname, '..', '..', 'tokenizer', 'unicode_tables.go');

const isSurrogate = (cp) => cp >= 0xd800 && cp <= 0xdfff;
const isHangulSyllable = (cp) => cp >= 0xac00 && cp <= 0xd7a3;
const chr = String.fromCodePoint;
const cps = (s) => Array.from(s, (c) => c.codePointAt(0));

const clean = tk.bertNormalizer({ cleanText: true, handleChineseChars: false, stripAccents: false, lowercase: false });
const stripMn = tk.bertNormalizer({ cleanText: false, handleChineseChars: false, stripAccents: true, lowercase: false });
const stripAcc = tk.stripAccentsNormalizer();
const lower = tk.lowercase();
const nfd = tk.nfdNormalizer();
const nfkd = tk.nfkdNormalizer();
const nfc = tk.nfcNormalizer();
const bertPre = tk.bertPreTokenizer();
const wsPre = tk.whitespacePreTokenizer();
const wsSplit = tk.whitespaceSplitPreTokenizer();

const sets = { other: [], whitespace: [], bertPunct: [], word: [], mn: [], combining: [] };
const lowerMap = [];
const nfdMap = [];
const nfkdMap = [];
const trivialNFD = [];

for (let cp = 0; cp <= MAX_CP; cp++) {
  if (isSurrogate(cp)) continue;
  const c = chr(cp);
  const ab = 'a' + c + 'b';

  const cl = clean.normalizeString(ab);
  if (cl === 'ab') sets.other.push(cp);
  else if (cl !== 'a b' && cl !== ab) throw new Error(`clean_text: unexpected ${cp.toString(16)} -> ${JSON.stringify(cl)}`);

  const ws = wsSplit.preTokenizeString(ab);
  if (ws.length === 2) sets.whitespace.push(cp);

  const bp = bertPre.preTokenizeString(ab);
  if (bp.length === 3) sets.bertPunct.push(cp);

  const wp = wsPre.preTokenizeString(ab);
  if (wp.length === 1) sets.word.push(cp);

  if (stripAcc.normalizeString(c) === '') sets.combining.push(cp);

  const lo = lower.normalizeString(c);
  if (lo !== c) lowerMap.push([cp, lo]);

  if (!isHangulSyllable(cp)) {
    const d = nfd.normalizeString(c);
    if (d !== c) nfdMap.push([cp, d]);
    else trivialNFD.push(cp);
    const kd = nfkd.normalizeString(c);
    if (kd !== d) nfkdMap.push([cp, kd]);
    if (d === c && stripMn.normalizeString(c) === '') sets.mn.push(cp);
  }
}

// Hangul syllables are decomposed algorithmically; check the oracle agrees.
for (const cp of [0xac00, 0xac01, 0xd7a3, 0xb155]) {
  const s = cp - 0xac00;
  const want = [0x1100 + Math.floor(s / 588), 0x1161 + Math.floor((s % 588) / 28)];
  if (s % 28) want.push(0x11a7 + (s % 28));
  if (nfd.normalizeString(chr(cp)) !== String.fromCodePoint(...want)) throw new Error('hangul ' + cp);
}

// Canonical combining classes: only their order matters to the crate's
// reordering and composition, so recover a rank per non-starter by asking the
// oracle whether two marks get swapped by NFD.
const swapped = (m1, m2) => nfd.normalizeString('a' + chr(m1) + chr(m2)) === 'a' + chr(m2) + chr(m1);
const nonStarters = trivialNFD.filter((cp) => swapped(cp, 0x0334) || swapped(0x0316, cp));
const cmp = (x, y) => (swapped(x, y) ? 1 : swapped(y, x) ? -1 : 0);
const ordered = nonStarters.slice().sort(cmp);
const rank = new Map();
let r = 0;
for (let i = 0; i < ordered.length; i++) {
  if (i === 0 || cmp(ordered[i - 1], ordered[i]) !== 0) r++;
  rank.set(ordered[i], r);
}
if (r > 255) throw new Error('too many combining classes');

// Composition pairs: every primary composite c (NFD(c) != c, NFC(c) == c)
// composes from (NFC(prefix), last) of its full decomposition.
const composePairs = [];
for (const [cp, d] of nfdMap) {
  if (nfc.normalizeString(chr(cp)) !== chr(cp)) continue;
  const ds = cps(d);
  let found = false;
  for (let k = ds.length - 1; k >= 1 && !found; k--) {
    const rest = ds.slice(0, k).concat(ds.slice(k + 1));
    const x = cps(nfc.normalizeString(String.fromCodePoint(...rest)));
    if (x.length !== 1) continue;
    if (nfc.normalizeString(chr(x[0]) + chr(ds[k])) !== chr(cp)) continue;
    composePairs.push([x[0], ds[k], cp]);
    found = true;
  }
  if (!found) throw new Error('no composition pair for ' + cp.toString(16));
}
composePairs.sort((a, b) => a[0] - b[0] || a[1] - b[1]);

// ---- emit Go ----
const hex = (n) => '0x' + n.toString(16).toUpperCase();
function ranges(list) {
  const outR = [];
  for (const cp of list) {
    const last = outR[outR.length - 1];
    if (last && last[1] + 1 === cp) last[1] = cp;
    else outR.push([cp, cp]);
  }
  return outR;
}
function wrapNums(nums, perLine) {
  const lines = [];
  for (let i = 0; i < nums.length; i += perLine) lines.push('\t' + nums.slice(i, i + perLine).join(', ') + ',');
  return lines.join('\n');
}
function goString(s) {
  let o = '"';
  for (const c of s) {
    const cp = c.codePointAt(0);
    if (cp >= 0x20 && cp < 0x7f && c !== '"' && c !== '\\') o += c;
    else if (cp <= 0xffff) o += '\\u' + cp.toString(16).padStart(4, '0');
    else o += '\\U' + cp.toString(16).padStart(8, '0');
  }
  return o + '"';
}
function emitRanges(name, doc, list) {
  const rs = ranges(list);
  const nums = [];
  for (const [a, b] of rs) nums.push(hex(a), hex(b));
  return `// ${name}: ${doc} (${list.length} code points, ${rs.length} ranges).\nvar ${name} = rangeTable{\n${wrapNums(nums, 8)}\n}\n`;
}
function emitMap(name, doc, entries) {
  const keys = entries.map((e) => hex(e[0]));
  const offs = [0];
  let data = '';
  for (const [, v] of entries) {
    data += v;
    offs.push(offs[offs.length - 1] + Buffer.byteLength(v, 'utf8'));
  }
  const chunks = [];
  let cur = '';
  for (const [, v] of entries) {
    cur += v;
    if (cur.length > 40) { chunks.push(goString(cur)); cur = ''; }
  }
  if (cur) chunks.push(goString(cur));
  return `// ${name}: ${doc} (${entries.length} entries).\nvar ${name} = runeMap{\n\tkeys: []uint32{\n${wrapNums(keys, 8).replace(/^/gm, '\t')}\n\t},\n\toffs: []uint32{\n${wrapNums(offs, 12).replace(/^/gm, '\t')}\n\t},\n\tdata: ${chunks.join(' +\n\t\t')},\n}\n`;
}

let go = `// Code generated by tools/oracle/gen_unicode_tables.js from npm tokenizers@${require(path.join(__dirname, '..', 'node', 'node_modules', 'tokenizers', 'package.json')).version}; DO NOT EDIT.

package tokenizer

// The tables below reproduce the character classes and mappings that the
// Hugging Face Rust crate uses, as observed through its Node binding. See
// unicode.go for how they are used.

`;
go += emitRanges('tabOther', 'removed by BertNormalizer clean_text (Cc/Cf/Co as of Unicode 9, NUL, U+FFFD; not \\t\\n\\r)', sets.other) + '\n';
go += emitRanges('tabWhitespace', "Rust char::is_whitespace", sets.whitespace) + '\n';
go += emitRanges('tabBertPunct', 'BertPreTokenizer punctuation (ASCII punctuation or Unicode 9 P*)', sets.bertPunct) + '\n';
go += emitRanges('tabWord', 'regex crate \\w', sets.word) + '\n';
go += emitRanges('tabMn', 'Unicode 9 Mn among code points without a canonical decomposition', sets.mn) + '\n';
go += emitRanges('tabCombining', 'unicode-normalization-alignments is_combining_mark (Unicode 9 M*)', sets.combining) + '\n';
go += emitMap('mapLower', 'Rust char::to_lowercase where it is not the identity', lowerMap) + '\n';
go += emitMap('mapNFD', 'full canonical decomposition (Hangul syllables excluded: algorithmic)', nfdMap) + '\n';
go += emitMap('mapNFKD', 'full compatibility decomposition where it differs from mapNFD', nfkdMap) + '\n';
{
  const keys = ordered.slice().sort((a, b) => a - b);
  go += `// cccKeys/cccRanks: non-starters and the rank of their canonical combining class\n// (only the order of classes matters) (${keys.length} entries, ${r} classes).\n`;
  go += `var cccKeys = []uint32{\n${wrapNums(keys.map(hex), 8)}\n}\n\n`;
  go += `var cccRanks = []uint8{\n${wrapNums(keys.map((k) => rank.get(k)), 16)}\n}\n\n`;
}
go += `// composeTable: canonical composition pairs (first, second) -> composite (${composePairs.length} entries), sorted by pair.\nvar composeTable = []composePair{\n`;
for (const [a, b, c] of composePairs) go += `\t{${hex(a)}, ${hex(b)}, ${hex(c)}},\n`;
go += '}\n';

fs.writeFileSync(out, go);
console.error(`wrote ${out}: other=${sets.other.length} ws=${sets.whitespace.length} punct=${sets.bertPunct.length} word=${sets.word.length} mn=${sets.mn.length} comb=${sets.combining.length} lower=${lowerMap.length} nfd=${nfdMap.length} nfkd=${nfkdMap.length} nonstarters=${nonStarters.length}/${r} compose=${composePairs.length}`);
