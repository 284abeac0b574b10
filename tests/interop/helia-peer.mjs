#!/usr/bin/env node
// Reference peer: a Helia node (JS) for BitSwap interop tests, driven line by line.
//
// Usage:
//   node tests/interop/helia-peer.mjs [--seconds S] [--lab HOST]
//
// Starts one Helia node (in-memory blockstore and datastore) and prints ONE JSON line
//   {"ok": true, "peerId", "addrs", "p2p": "/ip4/127.0.0.1/tcp/N/p2p/ID"}
// then reads commands from stdin, one per line, answering each with ONE JSON line
// ({"ok", "cmd", ..., "error"}); logs go to stderr:
//   add PATH [cidVersion] [rawLeaves]   import a file or a directory tree (defaults: CIDv1,
//                                       raw leaves, 256 KiB chunks) -> {"cid", "seconds"}
//   connect ADDR                        dial /ip4/127.0.0.1/tcp/PORT/p2p/ID only
//   fetch CID OUT [TIMEOUT_SECS]        fetch over BitSwap and write a file, or a directory
//                                       tree at OUT (default timeout 120 s) -> {"seconds", "bytes"}
//   import-car PATH                     put every block of a CARv1 into the blockstore as is
//                                       (any codec, any hash) -> {"roots", "blocks"}
//   pin CID [TIMEOUT_SECS]              pin recursively: walks the DAG (dag-pb, raw,
//                                       dag-cbor, dag-json, json links), fetching what is
//                                       missing over BitSwap -> {"cids": [every block]}
//   peers                               -> {"peers": [...]}
//   quit (or EOF)                       stop Helia and exit 0
// The process ends by itself after --seconds (default 600, max 3600).
//
// Blocks received over BitSwap are verified with the hasher of their multihash: Helia's
// sha2-256/sha2-512/identity plus the @noble/hashes ones of hashers.mjs (sha3, keccak,
// blake2b, blake2s, blake3).
//
// Network: libp2p with TCP on 127.0.0.1 only, noise, yamux, identify; no bootstrap list,
// no mDNS or other discovery, no DHT, no delegated/HTTP routing and no trustless-gateway
// broker (Helia's light constructor plus libp2p and BitSwap only); a connection gater
// refuses every address outside 127.0.0.0/8, and the listen addresses are checked.
//
// --lab HOST (the testnet lab, scripts/testnet.sh; HOST in 198.18.0.0/15): the node is a
// full member instead: it listens on HOST:4001, takes part in the Kademlia DHT
// (/ipfs/kad/1.0.0, server mode) and uses it to find providers and to provide what it
// adds, and `connect` takes lab addresses. Its gater then refuses everything outside
// 198.18.0.0/15, loopback included, and the DHT keeps only lab addresses of its peers.
// `peers` also answers {"dht": routing table size}.
//
// Exit status: 0 ok, 1 failed to start, 2 usage, 3 node_modules missing (run
// scripts/setup-peers.sh).

import fs from 'node:fs/promises'
import { createReadStream, createWriteStream } from 'node:fs'
import path from 'node:path'
import readline from 'node:readline'
import { dier, emit, run, secondsArg } from './peer-common.mjs'
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'

const die = dier('helia-peer.mjs')

let Helia, createLibp2p, bitswap, unixfs, tcp, noise, yamux, identify
let MemoryBlockstore, MemoryDatastore, multiaddr, CID, fixedSize, HASHERS, CarReader
let ping, kadDHT, libp2pRouting
try {
  ({ HASHERS } = await import('./hashers.mjs'));
  ({ CarReader } = await import('@ipld/car/reader'));
  // Helia's node class itself (the `helia` package's createHelia adds default routers,
  // HTTP gateways and a long libp2p default config that this peer must not have).
  ({ Helia } = await import('@helia/utils'));
  ({ createLibp2p } = await import('libp2p'));
  ({ bitswap } = await import('@helia/block-brokers'));
  ({ unixfs } = await import('@helia/unixfs'));
  ({ tcp } = await import('@libp2p/tcp'));
  ({ noise } = await import('@chainsafe/libp2p-noise'));
  ({ yamux } = await import('@chainsafe/libp2p-yamux'));
  ({ identify } = await import('@libp2p/identify'));
  ({ MemoryBlockstore } = await import('blockstore-core/memory'));
  ({ MemoryDatastore } = await import('datastore-core/memory'));
  ({ multiaddr } = await import('@multiformats/multiaddr'));
  ({ CID } = await import('multiformats/cid'));
  ({ fixedSize } = await import('ipfs-unixfs-importer/chunker'));
  ({ ping } = await import('@libp2p/ping'));
  ({ kadDHT } = await import('@libp2p/kad-dht'));
  ({ libp2pRouting } = await import('@helia/routers'))
} catch (e) {
  die(3, `cannot load the Helia packages (${e.message}); run scripts/setup-peers.sh`)
}

// Lab addresses: 198.18.0.0/15 is 198.18.x.y and 198.19.x.y.
const LAB_HOST = /^198\.1[89]\.(25[0-5]|2[0-4]\d|1?\d?\d)\.(25[0-5]|2[0-4]\d|1?\d?\d)$/
const args = process.argv.slice(2)
let seconds = 600
let lab = null
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--seconds' && i + 1 < args.length) {
    seconds = secondsArg(args[++i], die)
  } else if (args[i] === '--lab' && i + 1 < args.length) {
    lab = args[++i]
    if (!LAB_HOST.test(lab)) die(2, `--lab ${lab}: not an address in 198.18.0.0/15`)
  } else {
    die(2, `unknown argument ${args[i]}`)
  }
}

const LOOPBACK = /^\/ip4\/127\.0\.0\.1\/tcp\/\d+(\/p2p\/\w+)?$/
const LAB = /^\/ip4\/198\.1[89]\.\d+\.\d+\/tcp\/\d+(\/p2p\/\w+)?$/
// The addresses this node may listen on, dial and learn.
const ALLOWED = lab == null ? LOOPBACK : LAB
const allowed = (ma) => ALLOWED.test(ma.toString())
const log = (m) => process.stderr.write(`helia: ${m}\n`)

const datastore = new MemoryDatastore()
let helia
try {
  const libp2p = await createLibp2p({
    datastore,
    addresses: { listen: [lab == null ? '/ip4/127.0.0.1/tcp/0' : `/ip4/${lab}/tcp/4001`] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    peerDiscovery: [],
    services: lab == null
      ? { identify: identify() }
      : {
          identify: identify(),
          ping: ping(),
          dht: kadDHT({
            protocol: '/ipfs/kad/1.0.0',
            clientMode: false,
            // The default mapper drops private addresses, 198.18.0.0/15 among them.
            peerInfoMapper: (info) => ({ ...info, multiaddrs: info.multiaddrs.filter(allowed) }),
            allowQueryWithZeroPeers: true
          })
        },
    connectionGater: {
      denyDialMultiaddr: (ma) => !allowed(ma.toString().replace(/\/p2p\/\w+$/, '')),
      denyInboundConnection: (maConn) => !allowed(maConn.remoteAddr.toString().replace(/\/p2p\/\w+$/, ''))
    }
  })
  helia = new Helia({
    libp2p,
    blockstore: new MemoryBlockstore(),
    datastore,
    blockBrokers: [bitswap()],
    routers: lab == null ? [] : [libp2pRouting(libp2p)],
    hashers: Object.values(HASHERS)
  })
} catch (e) {
  emit({ ok: false, error: `setup: ${e.message}` })
  process.exit(1)
}

const { stop, addrs } = await run(helia, { seconds, log, listen: ALLOWED })
const fsx = unixfs(helia)
emit({ ok: true, peerId: helia.libp2p.peerId.toString(), addrs, p2p: addrs[0] })

async function * treeSource (root, base) {
  const st = await fs.lstat(root)
  const rel = path.relative(base, root).split(path.sep).join('/')
  if (st.isDirectory()) {
    yield { path: rel }
    const names = (await fs.readdir(root)).sort()
    for (const n of names) yield * treeSource(path.join(root, n), base)
  } else if (st.isFile()) {
    yield { path: rel, content: createReadStream(root) }
  }
}

async function add (p, cidVersion, rawLeaves) {
  const abs = path.resolve(p)
  const st = await fs.stat(abs)
  const opts = {
    cidVersion,
    rawLeaves,
    chunker: fixedSize({ chunkSize: 262144 }),
    wrapWithDirectory: false
  }
  if (st.isFile()) {
    return (await fsx.addByteStream(createReadStream(abs), opts)).toString()
  }
  let last
  for await (const r of fsx.addAll(treeSource(abs, path.dirname(abs)), opts)) last = r
  return last.cid.toString()
}

async function fetchTo (cid, out, signal) {
  const st = await fsx.stat(cid, { signal })
  if (st.type === 'directory') {
    await fs.mkdir(out)
    let bytes = 0
    for await (const e of fsx.ls(cid, { signal })) {
      bytes += await fetchTo(e.cid.toString(), path.join(out, e.name), signal)
    }
    return bytes
  }
  await pipeline(Readable.from(fsx.cat(cid, { signal })), createWriteStream(out))
  return (await fs.stat(out)).size
}

const commands = {
  async add ([p, v, raw]) {
    if (!p) throw new Error('usage: add PATH [cidVersion] [rawLeaves]')
    const cidVersion = v === undefined ? 1 : Number(v)
    const rawLeaves = raw === undefined ? cidVersion === 1 : raw === 'true'
    const t = performance.now()
    const cid = await add(p, cidVersion, rawLeaves)
    // A lab member announces what it adds, as Kubo and ipfsd do.
    if (lab != null) await helia.routing.provide(CID.parse(cid), { signal: AbortSignal.timeout(60000) })
    return { cid, seconds: (performance.now() - t) / 1000 }
  },
  async connect ([addr]) {
    if (!addr || !/\/p2p\/\w+$/.test(addr) || !allowed(addr)) {
      throw new Error(`connect takes ${lab == null ? '/ip4/127.0.0.1' : 'lab (198.18.0.0/15)'} /tcp/PORT/p2p/ID addresses only`)
    }
    await helia.libp2p.dial(multiaddr(addr), { signal: AbortSignal.timeout(30000) })
    return {}
  },
  async fetch ([c, out, t]) {
    if (!c || !out) throw new Error('usage: fetch CID OUT [TIMEOUT_SECS]')
    const timeout = t === undefined ? 120 : Number(t)
    const start = performance.now()
    // The CID string goes in as is: unixfs parses it with its own multiformats version.
    const bytes = await fetchTo(c, path.resolve(out), AbortSignal.timeout(timeout * 1000))
    return { seconds: (performance.now() - start) / 1000, bytes }
  },
  async 'import-car' ([p]) {
    if (!p) throw new Error('usage: import-car PATH')
    const reader = await CarReader.fromBytes(await fs.readFile(path.resolve(p)))
    let blocks = 0
    for await (const { cid, bytes } of reader.blocks()) {
      await helia.blockstore.put(CID.decode(cid.bytes), bytes)
      blocks++
    }
    return { roots: (await reader.getRoots()).map(String), blocks }
  },
  async pin ([c, t]) {
    if (!c) throw new Error('usage: pin CID [TIMEOUT_SECS]')
    const timeout = t === undefined ? 120 : Number(t)
    const cids = []
    for await (const got of helia.pins.add(CID.parse(c), { signal: AbortSignal.timeout(timeout * 1000) })) {
      cids.push(got.toString())
    }
    return { cids }
  },
  async peers () {
    const peers = helia.libp2p.getPeers().map(String)
    if (lab == null) return { peers }
    return { peers, dht: [...(helia.libp2p.services.dht.routingTable.kb?.toIterable() ?? [])].length }
  }
}

const rl = readline.createInterface({ input: process.stdin })
for await (const line of rl) {
  const [cmd, ...rest] = line.trim().split(/\s+/)
  if (!cmd) continue
  if (cmd === 'quit') { emit({ ok: true, cmd }); break }
  log(`peer: ${line.trim()}`)
  const f = commands[cmd]
  if (!f) { emit({ ok: false, cmd, error: `unknown command ${cmd}` }); continue }
  try {
    emit({ ok: true, cmd, ...(await f(rest)), error: null })
  } catch (e) {
    emit({ ok: false, cmd, error: String(e.message ?? e) })
  }
}
await stop(0)
