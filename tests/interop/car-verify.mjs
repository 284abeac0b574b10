#!/usr/bin/env node
// Reference verifier for CARs served by ipfsd's trustless gateway, built from the JS
// reference libraries only: @ipld/car reads the CAR, every block's hash is recomputed with
// its own hasher (multiformats' sha2-256/sha2-512/identity; sha3-256/512, keccak-256,
// blake2b-256/512, blake2s-256 and blake3 from @noble/hashes through multiformats' hasher
// interface) against its CID, and ipfs-unixfs-exporter then reads the requested content
// (UnixFS, or a dag-cbor/dag-json node and paths through it) from those verified blocks
// alone (nothing else is available to it).
//
// Usage:
//   node tests/interop/car-verify.mjs FILE.car ROOT[/PATH] [OFFSET LENGTH]
// Prints one JSON object: {roots, blocks, cids, kind, size, sha256, entries} where cids lists
// every block's CID in CAR order, sha256 is of the file's bytes (OFFSET/LENGTH: of that
// range only) and entries lists a directory.
// Exit status: 0 verified, 1 a block failed verification or content is missing, 2 usage,
// 3 node_modules missing (run scripts/setup-peers.sh).

import fs from 'node:fs/promises'
import crypto from 'node:crypto'

function die (code, msg) {
  process.stderr.write(`car-verify.mjs: ${msg}\n`)
  process.exit(code)
}

let CarReader, MemoryBlockstore, exporter, hashers
try {
  ({ CarReader } = await import('@ipld/car/reader'));
  ({ MemoryBlockstore } = await import('blockstore-core/memory'));
  ({ exporter } = await import('ipfs-unixfs-exporter'))
  const { sha256, sha512 } = await import('multiformats/hashes/sha2')
  const { identity } = await import('multiformats/hashes/identity')
  const { from } = await import('multiformats/hashes/hasher')
  const { sha3_256, sha3_512, keccak_256 } = await import('@noble/hashes/sha3.js')
  const { blake2b, blake2s } = await import('@noble/hashes/blake2.js')
  const { blake3 } = await import('@noble/hashes/blake3.js')
  const noble = (name, code, fn) => from({ name, code, encode: (b) => fn(b) })
  hashers = Object.fromEntries([
    sha256, sha512, identity,
    noble('sha3-256', 0x16, sha3_256),
    noble('sha3-512', 0x14, sha3_512),
    noble('keccak-256', 0x1b, keccak_256),
    noble('blake2b-256', 0xb220, (b) => blake2b(b, { dkLen: 32 })),
    noble('blake2b-512', 0xb240, (b) => blake2b(b, { dkLen: 64 })),
    noble('blake2s-256', 0xb260, (b) => blake2s(b, { dkLen: 32 })),
    noble('blake3', 0x1e, (b) => blake3(b, { dkLen: 32 }))
  ].map((h) => [h.code, h]))
} catch (err) {
  die(3, `cannot load JS dependencies (${err.message}); run scripts/setup-peers.sh`)
}

const [file, target, offset, length] = process.argv.slice(2)
if (file == null || target == null) die(2, 'usage: car-verify.mjs FILE.car ROOT[/PATH] [OFFSET LENGTH]')

const reader = await CarReader.fromBytes(await fs.readFile(file))
const store = new MemoryBlockstore()
let blocks = 0
const cids = []
for await (const { cid, bytes } of reader.blocks()) {
  const hasher = hashers[cid.multihash.code]
  if (hasher == null) die(1, `block ${cid}: unsupported hash 0x${cid.multihash.code.toString(16)}`)
  const digest = await hasher.digest(bytes)
  if (Buffer.compare(Buffer.from(digest.digest), Buffer.from(cid.multihash.digest)) !== 0) {
    die(1, `block ${cid} does not match its CID`)
  }
  await store.put(cid, bytes)
  cids.push(cid.toString())
  blocks++
}
const roots = (await reader.getRoots()).map(String)

let entry
try {
  entry = await exporter(target, store)
} catch (err) {
  die(1, `cannot resolve ${target} from the CAR's blocks: ${err.message}`)
}
const out = { roots, blocks, cids, kind: entry.type, size: null, sha256: null, entries: null }
try {
  if (entry.type === 'file' || entry.type === 'raw' || entry.type === 'identity') {
    const opts = offset != null ? { offset: Number(offset), length: Number(length) } : {}
    const h = crypto.createHash('sha256')
    let n = 0
    for await (const chunk of entry.content(opts)) { h.update(chunk); n += chunk.length }
    out.size = n
    out.sha256 = h.digest('hex')
  } else if (entry.type === 'directory') {
    out.entries = []
    for await (const e of entry.entries()) out.entries.push(e.name)
  }
} catch (err) {
  die(1, `cannot read ${target} from the CAR's blocks: ${err.message}`)
}
process.stdout.write(JSON.stringify(out) + '\n')
