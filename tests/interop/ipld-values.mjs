// Reference IPLD encodings for ipfsd's CID-equality test (tests/tests/ipld_interop.rs).
//
// Usage:
//   node tests/interop/ipld-values.mjs values [COUNT] [SEED]
//     Makes COUNT (default 240) deterministic IPLD values (seeded PRNG) and prints ONE JSON
//     array: for each {"name", "dagJson" (the @ipld/dag-json encoding, a string),
//     "cborHex" (the @ipld/dag-cbor encoding), "cborCid", "jsonCid" (CIDv1, sha2-256 via
//     multiformats), "utf16Order" (true when a map in it has keys whose UTF-16 order, which
//     @ipld/dag-json sorts by, differs from their UTF-8 byte order, which the DAG-JSON spec
//     asks for)}.
//   node tests/interop/ipld-values.mjs strict HEX...
//     Decodes each HEX with @ipld/dag-cbor's strict decoder; prints ONE JSON array of
//     {"hex", "refused", "error"}.
//
// Values: nested maps and lists, bytes, non-integral floats, integers up to the 64-bit
// limits (BigInt past 2^53), unicode keys (keys that sort differently length-first and
// bytewise, astral-plane and high-BMP keys), links (to CIDs of other codecs and hashes),
// empty containers, nesting up to depth 12.
//
// No map has the key "/": dag-json reserves it for links and bytes, and such maps do not
// round-trip (@ipld/dag-json refuses {"/":"x","y":1} that it encodes; serde_ipld_dagjson,
// which ipfsd decodes with, refuses every other "/" map, e.g. {"/":1}, that JS accepts).
//
// JS numbers: 1.0 === 1 in JS, so an integral float is an integer here (encoded as one);
// only non-integral floats are generated. A Rust or Go value Float(1.0) encodes as 1.0 in
// dag-json and as a float in dag-cbor, so it would NOT match JS's encoding of the "same"
// number: that is a data-model difference, not a codec bug, and this corpus avoids it.

import * as dagCbor from '@ipld/dag-cbor'
import * as dagJson from '@ipld/dag-json'
import { CID } from 'multiformats/cid'
import { sha256, sha512 } from 'multiformats/hashes/sha2'
import * as raw from 'multiformats/codecs/raw'

// mulberry32: a small seeded PRNG, so every run makes the same corpus.
function prng (seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const KEYS = [
  'a', 'b', 'aa', 'ab', 'z', 'zz', 'A', 'Z', '', ' ', '0', '10', '9', 'key', 'Key',
  'ключ', '键', 'clé', 'naïve', 'ß', 'ss', 'é', 'e\u0301', '\u00ff', '\u0100',
  '😀', '🎉x', '\ufffd', '\uffef', '\ue000', 'a😀', 'a\uffff', '\u007f', 'tab\there',
  'quote"', 'back\\slash', 'new\nline', '//', 'Links', 'Data', 'bytes', 'x'.repeat(40)
]

const FLOATS = [
  0.5, -0.5, 1.5, -1.25, 0.1, 0.2, 0.30000000000000004, 3.141592653589793, -2.718281828459045,
  1.5e-7, 1e-7, 2.5e-10, 1.7976931348623157e+308 / 3, 5e-324, -5e-324, 2.2250738585072014e-308,
  123456.789, 9007199254740.5, 0.000001, 0.0000015, 1e-5, 12345678.9, 4.35, 100.01,
  1.0000000000000002, 0.9999999999999999, 1e21 / 3, 6.02214076e+23 + 0.5, 1.2e-300
].filter((f) => !Number.isInteger(f))

const INTS = [
  0, 1, -1, 23, 24, -24, -25, 255, 256, 65535, 65536, -65536, -65537,
  2 ** 31, -(2 ** 31), 2 ** 32, -(2 ** 32) - 1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER,
  2n ** 53n + 1n, -(2n ** 53n) - 1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 62n, 1234567890123456789n
]

async function makeLinks () {
  const links = []
  for (const [i, s] of ['a', 'bb', 'ccc', 'dddd'].entries()) {
    const bytes = new TextEncoder().encode(s)
    links.push(CID.create(1, raw.code, await sha256.digest(bytes)))
    links.push(CID.create(1, dagCbor.code, await sha256.digest(dagCbor.encode({ i }))))
    links.push(CID.create(1, dagJson.code, await sha512.digest(dagJson.encode([i]))))
  }
  // A CIDv0 (dag-pb, sha2-256): the empty directory.
  links.push(CID.parse('QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn'))
  return links
}

function makeValue (rand, links, depth) {
  const pick = (arr) => arr[Math.floor(rand() * arr.length)]
  const leafKinds = ['null', 'bool', 'int', 'float', 'string', 'bytes', 'link']
  const kinds = depth <= 0 ? leafKinds : [...leafKinds, 'map', 'map', 'list', 'list']
  switch (pick(kinds)) {
    case 'null': return null
    case 'bool': return rand() < 0.5
    case 'int': return rand() < 0.6 ? pick(INTS) : Math.floor((rand() - 0.5) * 2 ** 20)
    case 'float': return pick(FLOATS)
    case 'string': return rand() < 0.5 ? pick(KEYS) : `s${Math.floor(rand() * 1e6)}${pick(KEYS)}`
    case 'bytes': {
      const n = Math.floor(rand() * 40)
      return Uint8Array.from({ length: n }, () => Math.floor(rand() * 256))
    }
    case 'link': return pick(links)
    case 'list': {
      const n = rand() < 0.15 ? 0 : Math.floor(rand() * 6)
      return Array.from({ length: n }, () => makeValue(rand, links, depth - 1 - Math.floor(rand() * 2)))
    }
    case 'map': {
      const n = rand() < 0.15 ? 0 : Math.floor(rand() * 7)
      const m = {}
      for (let i = 0; i < n; i++) m[pick(KEYS)] = makeValue(rand, links, depth - 1 - Math.floor(rand() * 2))
      return m
    }
  }
}

// Values made to order: the cases a random walk might miss.
function fixedValues (links) {
  const deep = (n) => (n === 0 ? { end: true } : { next: deep(n - 1), n })
  return [
    {}, [], '', new Uint8Array(0), 0, -1, 2n ** 63n - 1n, -(2n ** 63n), 0.5, 5e-324,
    { b: 1, aa: 2 }, // length-first ≠ bytewise
    { '\ufffd': 1, '😀': 2 }, // UTF-16 order ≠ UTF-8 order
    { '\ue000': 1, '🎉x': 2, a: 3 },
    { z: [], a: {}, m: '' },
    { link: links[0], list: [links[1], links[2]], nested: { l: links[links.length - 1] } },
    [[[[[[[[[[[[]]]]]]]]]]]],
    deep(12),
    { Data: new Uint8Array([8, 1]), Links: [] },
    { floats: FLOATS },
    { ints: INTS }
  ]
}

function utf16OrderDiffers (v) {
  const stack = [v]
  while (stack.length > 0) {
    const x = stack.pop()
    if (Array.isArray(x)) { stack.push(...x); continue }
    if (x === null || typeof x !== 'object' || x instanceof Uint8Array || CID.asCID(x)) continue
    const keys = Object.keys(x)
    const utf16 = [...keys].sort()
    const enc = new TextEncoder()
    const utf8 = [...keys].sort((p, q) => Buffer.compare(Buffer.from(enc.encode(p)), Buffer.from(enc.encode(q))))
    if (utf16.some((k, i) => k !== utf8[i])) return true
    stack.push(...Object.values(x))
  }
  return false
}

async function describe (name, value) {
  const cbor = dagCbor.encode(value)
  const json = dagJson.encode(value)
  return {
    name,
    dagJson: new TextDecoder().decode(json),
    cborHex: Buffer.from(cbor).toString('hex'),
    cborCid: CID.create(1, dagCbor.code, await sha256.digest(cbor)).toString(),
    jsonCid: CID.create(1, dagJson.code, await sha256.digest(json)).toString(),
    utf16Order: utf16OrderDiffers(value)
  }
}

async function values (count, seed) {
  const links = await makeLinks()
  const out = []
  for (const [i, v] of fixedValues(links).entries()) out.push(await describe(`fixed-${i}`, v))
  const rand = prng(seed)
  for (let i = 0; out.length < count; i++) {
    out.push(await describe(`random-${i}`, makeValue(rand, links, 1 + Math.floor(rand() * 6))))
  }
  return out
}

function strict (hexes) {
  return hexes.map((hex) => {
    try {
      dagCbor.decode(Uint8Array.from(Buffer.from(hex, 'hex')))
      return { hex, refused: false, error: null }
    } catch (e) {
      return { hex, refused: true, error: e.message }
    }
  })
}

const [mode, ...rest] = process.argv.slice(2)
if (mode === 'values') {
  const count = Number(rest[0] ?? 240)
  const seed = Number(rest[1] ?? 15)
  process.stdout.write(JSON.stringify(await values(count, seed)) + '\n')
} else if (mode === 'strict') {
  process.stdout.write(JSON.stringify(strict(rest)) + '\n')
} else {
  process.stderr.write('usage: ipld-values.mjs values [COUNT] [SEED] | strict HEX...\n')
  process.exit(2)
}
