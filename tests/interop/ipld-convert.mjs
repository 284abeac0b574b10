#!/usr/bin/env node
// The JS reference for the gateway's codec conversions: a deterministic set of IPLD values
// (seeded PRNG: nested maps and lists, bytes, links of several codecs and hashes, unicode
// keys and strings, negative and 64-bit integers, non-integral floats, plus fixed edge
// cases), each encoded as a dag-cbor block and as a dag-json block with @ipld/dag-cbor and
// @ipld/dag-json (CIDv1, sha2-256), and for each block what the other codec's encoder makes
// of it once decoded (dag-cbor → decode → dag-json encode, and dag-json → dag-cbor).
//
// Usage: node tests/interop/ipld-convert.mjs [COUNT] [SEED]
// Prints one JSON object: {items: [{codec, cid, block, convert}]} with block and convert in
// base64 (convert: the block in the other codec). Exit status: 0 done, 2 usage, 3
// node_modules missing (run scripts/setup-peers.sh).

function die (code, msg) {
  process.stderr.write(`ipld-convert.mjs: ${msg}\n`)
  process.exit(code)
}

let dagCbor, dagJson, CID, sha256, identity
try {
  dagCbor = await import('@ipld/dag-cbor')
  dagJson = await import('@ipld/dag-json');
  ({ CID } = await import('multiformats/cid'));
  ({ sha256 } = await import('multiformats/hashes/sha2'));
  ({ identity } = await import('multiformats/hashes/identity'))
} catch (err) {
  die(3, `cannot load JS dependencies (${err.message}); run scripts/setup-peers.sh`)
}

const count = Number(process.argv[2] ?? 120)
const seed = Number(process.argv[3] ?? 15)
if (!Number.isInteger(count) || count < 1 || !Number.isInteger(seed)) die(2, 'usage: ipld-convert.mjs [COUNT] [SEED]')

// mulberry32: small, seeded, the same on every run.
let state = seed >>> 0
function rand () {
  state = (state + 0x6d2b79f5) >>> 0
  let t = state
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const int = (n) => Math.floor(rand() * n)
const pick = (xs) => xs[int(xs.length)]
const bytes = (n) => Uint8Array.from({ length: n }, () => int(256))

const KEY_PARTS = ['a', 'b', 'name', 'Links', 'Data', 'é', 'ü', '日本', '🦀', 'ключ', 'key with space', '<script>', 'a"b', 'x\\y', 'tab\there', '0', '10', '', 'ß', 'ǅ']
const STRINGS = ['', 'plain', 'quote " and backslash \\', 'new\nline', 'ctrl \u0001\u001f', 'emoji 🎉🦀', 'ünïcödé', '中文字符', '</script><script>alert(1)</script>', '\u2028\u2029', 'null', '{"/":"x"}']
const FLOATS = [0.5, -0.5, 1.25, -1.25, 3.141592653589793, 1e-7, -2.5e-10, 123456.789, 1.7976931348623157e308, 5e-324, 0.1, 1e21 + 0.5, 2.2250738585072014e-308, 1e300]

async function link () {
  const data = bytes(1 + int(32))
  switch (int(4)) {
    case 0: return CID.createV1(0x55, await sha256.digest(data))
    case 1: return CID.createV1(0x71, await sha256.digest(data))
    case 2: return CID.createV0(await sha256.digest(data))
    default: return CID.createV1(0x55, identity.digest(data.slice(0, 8)))
  }
}

function float () {
  if (rand() < 0.4) return pick(FLOATS)
  for (;;) {
    const f = (rand() * 2 - 1) * 10 ** (int(20) - 8)
    if (!Number.isInteger(f) && Number.isFinite(f)) return f
  }
}

function bigint () {
  const k = pick([53n, 54n, 60n, 63n, 64n])
  const v = (1n << k) - 1n - BigInt(int(1000))
  return rand() < 0.5 ? v : -v - 1n
}

async function value (depth) {
  const leaf = depth >= 4 || rand() < 0.35
  const kind = leaf ? int(9) : 9 + int(2)
  switch (kind) {
    case 0: return int(1000)
    case 1: return -1 - int(1 << 30)
    case 2: return bigint()
    case 3: return float()
    case 4: return pick(STRINGS) + (rand() < 0.5 ? String(int(100)) : '')
    case 5: return bytes(int(40))
    case 6: return await link()
    case 7: return pick([null, true, false])
    case 8: return pick(STRINGS)
    case 9: {
      const n = int(6)
      const out = []
      for (let i = 0; i < n; i++) out.push(await value(depth + 1))
      return out
    }
    default: {
      const n = int(6)
      const out = {}
      for (let i = 0; i < n; i++) out[pick(KEY_PARTS) + (rand() < 0.3 ? pick(KEY_PARTS) : '')] = await value(depth + 1)
      return out
    }
  }
}

// Fixed edge cases first, then generated values (each top level a map or a list).
const values = [
  {},
  [],
  { '<script>alert(1)</script>': '<b>x</b>', a: [1, -1, 0.5] },
  { big: 18446744073709551615n, neg: -18446744073709551616n, safe: 9007199254740991, unsafe: 9007199254740993n },
  { floats: FLOATS },
  { bytes: new Uint8Array(0), more: bytes(100) },
  { link: CID.parse('bafkqaaa'), v0: CID.parse('QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn') },
  { 日本: { ключ: { '🦀': 'deep' } }, é: 1, e: 2, ee: 3, f: 4 },
  [null, true, false, '', [[[]]], { x: {} }]
]
while (values.length < count) {
  values.push(rand() < 0.5 ? await value(0) : await value(1).then((v) => ({ v, n: int(10) })))
}

const b64 = (u8) => Buffer.from(u8).toString('base64')
const items = []
for (const v of values.slice(0, count)) {
  const cbor = dagCbor.encode(v)
  const json = dagJson.encode(v)
  items.push({
    codec: 'dag-cbor',
    cid: CID.createV1(dagCbor.code, await sha256.digest(cbor)).toString(),
    block: b64(cbor),
    convert: b64(dagJson.encode(dagCbor.decode(cbor)))
  })
  items.push({
    codec: 'dag-json',
    cid: CID.createV1(dagJson.code, await sha256.digest(json)).toString(),
    block: b64(json),
    convert: b64(dagCbor.encode(dagJson.decode(json)))
  })
}
process.stdout.write(JSON.stringify({ items }) + '\n')
