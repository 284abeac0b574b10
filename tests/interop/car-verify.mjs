#!/usr/bin/env node
// Reference verifier for CARs served by ipfsd's trustless gateway, built from the JS
// reference libraries only: @ipld/car reads the CAR, every block's hash is recomputed with
// multiformats (sha2-256, identity) against its CID, and ipfs-unixfs-exporter then reads the
// requested content from those verified blocks alone (nothing else is available to it).
//
// Usage:
//   node tests/interop/car-verify.mjs FILE.car ROOT[/PATH] [OFFSET LENGTH]
// Prints one JSON object: {roots, blocks, kind, size, sha256, entries} where sha256 is of
// the file's bytes (OFFSET/LENGTH: of that range only) and entries lists a directory.
// Exit status: 0 verified, 1 a block failed verification or content is missing, 2 usage,
// 3 node_modules missing (run scripts/setup-peers.sh).

import fs from 'node:fs/promises'
import crypto from 'node:crypto'

function die (code, msg) {
  process.stderr.write(`car-verify.mjs: ${msg}\n`)
  process.exit(code)
}

let CarReader, MemoryBlockstore, exporter, sha256, identity
try {
  ({ CarReader } = await import('@ipld/car/reader'));
  ({ MemoryBlockstore } = await import('blockstore-core/memory'));
  ({ exporter } = await import('ipfs-unixfs-exporter'));
  ({ sha256 } = await import('multiformats/hashes/sha2'));
  ({ identity } = await import('multiformats/hashes/identity'))
} catch (err) {
  die(3, `cannot load JS dependencies (${err.message}); run scripts/setup-peers.sh`)
}

const [file, target, offset, length] = process.argv.slice(2)
if (file == null || target == null) die(2, 'usage: car-verify.mjs FILE.car ROOT[/PATH] [OFFSET LENGTH]')

const reader = await CarReader.fromBytes(await fs.readFile(file))
const store = new MemoryBlockstore()
let blocks = 0
for await (const { cid, bytes } of reader.blocks()) {
  const hasher = { [sha256.code]: sha256, [identity.code]: identity }[cid.multihash.code]
  if (hasher == null) die(1, `block ${cid}: unsupported hash 0x${cid.multihash.code.toString(16)}`)
  const digest = await hasher.digest(bytes)
  if (Buffer.compare(Buffer.from(digest.digest), Buffer.from(cid.multihash.digest)) !== 0) {
    die(1, `block ${cid} does not match its CID`)
  }
  await store.put(cid, bytes)
  blocks++
}
const roots = (await reader.getRoots()).map(String)

let entry
try {
  entry = await exporter(target, store)
} catch (err) {
  die(1, `cannot resolve ${target} from the CAR's blocks: ${err.message}`)
}
const out = { roots, blocks, kind: entry.type, size: null, sha256: null, entries: null }
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
