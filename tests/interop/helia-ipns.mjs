#!/usr/bin/env node
// Reference side for IPNS interop: records made and checked by the JS `ipns` package, and a
// Helia node that publishes/resolves IPNS names over the Kademlia DHT (`@helia/ipns`).
//
// Usage:
//   node tests/interop/helia-ipns.mjs vectors OUT.json
//       Writes a JSON array of IPNS records created by the JS reference implementation:
//       {"label", "keyType", "name" (k51... / k2k4r8...), "peerId", "routingKey" (hex of
//        "/ipns/" + peer id multihash), "record" (base64 protobuf), "value", "sequence",
//        "ttlNs", "validity", "v1", "v2", "expectValid" (what the vector was made to be),
//        "jsValid" / "jsError" (the JS validator's verdict on it, now), "privateKey"
//        (base64 libp2p protobuf; test keys), "note"}. Prints {"ok": true, "count", "out"}
//        on stdout.
//   node tests/interop/helia-ipns.mjs validate IN.json
//       IN.json: [{"label", "name" (k51... or 12D3Koo...), "record" (base64)}]. Runs the JS
//       validator (ipnsValidator) and unmarshaller on each and prints ONE JSON array:
//       [{"label", "ok", "error", "value", "sequence", "validity", "ttlNs", "v1", "v2"}]
//       (fields null when the record does not unmarshal). Exit 0 even when records are
//       invalid.
//   node tests/interop/helia-ipns.mjs peer [--seconds S] [--client]
//       A Helia node with the Kademlia DHT (/ipfs/kad/1.0.0, server mode unless --client)
//       driven through stdin. Prints ONE JSON line {"ok": true, "peerId", "addrs", "p2p",
//       "name", "mode"} and then answers each command with ONE JSON line
//       {"ok", "cmd", ..., "error"}:
//         connect ADDR                    dial /ip4/127.0.0.1/tcp/PORT/p2p/ID and wait (<= 5 s)
//                                         until it is in the DHT routing table
//         publish VALUE [LIFETIME_MS] [TTL_MS] [v1|v2]
//                                         publish under the node's own key (@helia/ipns)
//         resolve NAME [nocache]          resolve through the DHT
//         put NAME RECORD_B64             DHT PUT_VALUE of raw record bytes (no local checks)
//         peers                           connected peers and the DHT routing table
//         quit (or EOF)
//       Ends by itself after --seconds (default 600, max 3600).
//
// Network: libp2p with TCP on 127.0.0.1 only, noise, yamux, identify, ping, kad-dht; no
// bootstrap list, no mDNS, no delegated/HTTP routing, no pubsub, no DNS resolution of
// names. A connection gater refuses every address outside 127.0.0.0/8 and the DHT keeps
// only 127.0.0.0/8 addresses of the peers it learns about.
//
// Exit status: 0 ok, 1 failed (IO error, node did not start), 2 usage, 3 node_modules
// missing (run scripts/setup-peers.sh).

import fs from 'node:fs/promises'
import readline from 'node:readline'
import { dier, emit, errText, run, secondsArg } from './peer-common.mjs'

const die = dier('helia-ipns.mjs')

const USAGE = 'usage: helia-ipns.mjs vectors OUT.json | validate IN.json | peer [--seconds S] [--client]'

let ipnsLib, ipnsValidator, keys, peerIdFromString, peerIdFromPrivateKey, base36, CID
try {
  ipnsLib = await import('ipns');
  ({ ipnsValidator } = await import('ipns/validator'))
  keys = await import('@libp2p/crypto/keys');
  ({ peerIdFromString, peerIdFromPrivateKey } = await import('@libp2p/peer-id'));
  ({ base36 } = await import('multiformats/bases/base36'));
  ({ CID } = await import('multiformats/cid'))
} catch (e) {
  die(3, `cannot load the ipns packages (${e.message}); run scripts/setup-peers.sh`)
}
const { createIPNSRecord, createIPNSRecordWithExpiration, marshalIPNSRecord, unmarshalIPNSRecord, multihashToIPNSRoutingKey } = ipnsLib

const b64 = (u8) => Buffer.from(u8).toString('base64')
const hex = (u8) => Buffer.from(u8).toString('hex')

// The name of a key: CIDv1, libp2p-key codec, base36 (k51... for Ed25519).
const nameOf = (peerId) => peerId.toCID().toString(base36)

function parseName (s) {
  if (typeof s !== 'string' || s.length === 0) throw new Error('name missing')
  return peerIdFromString(s.replace(/^\/ipns\//, ''))
}

function describe (bytes) {
  const r = unmarshalIPNSRecord(bytes)
  return {
    value: r.value,
    sequence: r.sequence.toString(),
    validity: r.validity,
    ttlNs: r.ttl == null ? null : r.ttl.toString(),
    v1: 'signatureV1' in r && r.signatureV1 != null,
    v2: r.signatureV2 != null
  }
}


// ---------------------------------------------------------------- vectors
// Minimal protobuf writer: fields [number, bigint (varint) | Uint8Array (bytes)].
function pbEncode (fields) {
  const out = []
  const varint = (n) => { n = BigInt(n); do { let b = Number(n & 0x7fn); n >>= 7n; if (n > 0n) b |= 0x80; out.push(b) } while (n > 0n) }
  for (const [num, v] of fields) {
    if (typeof v === 'bigint') { varint(BigInt(num) << 3n); varint(v) } else { varint((BigInt(num) << 3n) | 2n); varint(v.length); out.push(...v) }
  }
  return new Uint8Array(out)
}

async function seedKey (label) {
  const seed = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`ipfsd-ipns-vector/${label}`)))
  return keys.generateKeyPairFromSeed('Ed25519', seed)
}

async function vectors (out) {
  const YEAR_MS = 365 * 24 * 3600 * 1000
  const LIFETIME = 10 * YEAR_MS
  const FAR = '2036-01-01T00:00:00.000000000Z' // fixed, so these records are byte-stable
  const { sha256 } = await import('multiformats/hashes/sha2')
  const rawCid = async (text) => CID.createV1(0x55, await sha256.digest(new TextEncoder().encode(text))).toString()
  const CID_A = await rawCid('ipfsd ipns vector A\n')
  const CID_B = await rawCid('ipfsd ipns vector B\n')
  const out_ = []
  const add = async (label, key, rec, opts = {}) => {
    const peerId = peerIdFromPrivateKey(key)
    const bytes = opts.bytes ?? marshalIPNSRecord(rec)
    const name = opts.name ?? peerId
    let d
    try {
      d = describe(bytes)
    } catch {
      // does not unmarshal (deliberately broken): describe the record as created
      d = { value: rec.value, sequence: rec.sequence.toString(), validity: rec.validity, ttlNs: rec.ttl?.toString() ?? null, v1: 'signatureV1' in rec, v2: true }
    }
    out_.push({
      label,
      keyType: key.type,
      name: nameOf(name),
      peerId: name.toString(),
      routingKey: hex(multihashToIPNSRoutingKey(name.toMultihash())),
      record: b64(bytes),
      value: d.value,
      sequence: d.sequence,
      ttlNs: d.ttlNs,
      validity: d.validity,
      v1: d.v1,
      v2: d.v2,
      expectValid: opts.expectValid ?? true,
      privateKey: b64(keys.privateKeyToProtobuf(key)),
      note: opts.note ?? null
    })
  }

  const k1 = await seedKey('ed25519-1')
  const k2 = await seedKey('ed25519-2')
  const n1 = nameOf(peerIdFromPrivateKey(k1))

  await add('ed25519-v1v2-default', k1,
    await createIPNSRecord(k1, `/ipfs/${CID_A}`, 1, LIFETIME),
    { note: 'createIPNSRecord defaults: V1+V2, TTL 5 min, validity = now + 10 years (nanosecond RFC3339)' })
  await add('ed25519-v2-only', k2,
    await createIPNSRecordWithExpiration(k2, `/ipfs/${CID_B}`, 1, FAR, { v1Compatible: false }),
    { note: 'v1Compatible: false; protobuf has only signatureV2 + data' })
  await add('ipns-path', k2,
    await createIPNSRecordWithExpiration(k2, `/ipns/${n1}`, 3, FAR, { v1Compatible: true }),
    { note: 'value is the /ipns/ name of ed25519-v1v2-default' })
  await add('ipfs-subpath', k1,
    await createIPNSRecordWithExpiration(k1, `/ipfs/${CID_B}/dir/file.txt`, 4, FAR, { v1Compatible: true }))
  await add('cid-value', k1,
    await createIPNSRecordWithExpiration(k1, CID.parse('QmPZ9gcCEpqKTo6aq61g2nXGUhM4iCL3ewB6LDXZCtioEB'), 5, FAR, { v1Compatible: true }),
    { note: 'value given as a CIDv0 object: the JS library stores /ipfs/<CIDv1>' })
  await add('large-sequence', k1,
    await createIPNSRecordWithExpiration(k1, `/ipfs/${CID_A}`, (1n << 40n) + 7n, FAR, { v1Compatible: true }),
    { note: 'sequence 2^40+7' })
  await add('max-sequence', k2,
    await createIPNSRecordWithExpiration(k2, `/ipfs/${CID_A}`, (1n << 64n) - 1n, FAR, { v1Compatible: true }),
    { note: 'sequence 2^64-1 (CBOR uint64, beyond 2^53)' })
  await add('ttl-1h', k1,
    await createIPNSRecordWithExpiration(k1, `/ipfs/${CID_A}`, 6, FAR, { v1Compatible: true, ttlNs: 3600n * 1000000000n }))
  await add('ttl-0', k2,
    await createIPNSRecordWithExpiration(k2, `/ipfs/${CID_A}`, 7, FAR, { v1Compatible: true, ttlNs: 0n }))
  await add('ttl-1h-v2-only', k2,
    await createIPNSRecordWithExpiration(k2, `/ipfs/${CID_B}`, 8, FAR, { v1Compatible: false, ttlNs: 3600n * 1000000000n }))

  const ks = keys.privateKeyFromRaw(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode('ipfsd-ipns-vector/secp256k1'))))
  await add('secp256k1', ks,
    await createIPNSRecordWithExpiration(ks, `/ipfs/${CID_A}`, 1, FAR, { v1Compatible: true }),
    { note: 'secp256k1 key (identity-multihash name, no embedded pubKey)' })
  const kr = await keys.generateKeyPair('RSA', 2048)
  await add('rsa-2048', kr,
    await createIPNSRecordWithExpiration(kr, `/ipfs/${CID_A}`, 1, FAR, { v1Compatible: true }),
    { note: 'RSA: sha2-256 peer id, so the record embeds pubKey; a new random key each run' })

  // Invalid ones.
  await add('expired', k1,
    await createIPNSRecordWithExpiration(k1, `/ipfs/${CID_A}`, 9, '2020-01-01T00:00:00.000000000Z', { v1Compatible: true }),
    { expectValid: false, note: 'validity in the past' })
  {
    const r = await createIPNSRecordWithExpiration(k1, `/ipfs/${CID_A}`, 10, FAR, { v1Compatible: true })
    const sig = new Uint8Array(r.signatureV2); sig[5] ^= 0x01
    await add('bad-signature-v2', k1, { ...r, signatureV2: sig }, { expectValid: false, note: 'one bit of signatureV2 flipped' })
  }
  {
    const r = await createIPNSRecordWithExpiration(k1, `/ipfs/${CID_A}`, 14, FAR, { v1Compatible: true })
    const sig = new Uint8Array(r.signatureV1); sig[5] ^= 0x01
    await add('bad-signature-v1', k1, { ...r, signatureV1: sig }, { note: 'signatureV1 corrupted, V2 intact: validators only check signatureV2 (and that the V1 fields equal the CBOR data), so this is valid' })
  }
  await add('wrong-name', k1,
    await createIPNSRecordWithExpiration(k2, `/ipfs/${CID_A}`, 11, FAR, { v1Compatible: true }),
    { expectValid: false, name: peerIdFromPrivateKey(k1), note: 'signed by the ed25519-v2-only key, presented under the name of ed25519-v1v2-default' })
  {
    const r = await createIPNSRecordWithExpiration(k1, `/ipfs/${CID_A}`, 12, FAR, { v1Compatible: true })
    await add('v1-value-mismatch', k1, r, {
      expectValid: false,
      bytes: marshalIPNSRecord({ ...r, value: `/ipfs/${CID_B}` }),
      note: 'V1 protobuf value differs from the signed CBOR data'
    })
  }
  {
    // V1-only (no signatureV2/data): the library cannot make one, so encode the protobuf here.
    const r = await createIPNSRecordWithExpiration(k1, `/ipfs/${CID_A}`, 13, FAR, { v1Compatible: true })
    const bytes = pbEncode([
      [1, new TextEncoder().encode(r.value)], [2, r.signatureV1], [3, 0n],
      [4, new TextEncoder().encode(r.validity)], [5, r.sequence], [6, r.ttl]
    ])
    const id1 = peerIdFromPrivateKey(k1)
    out_.push({
      label: 'v1-only',
      keyType: k1.type,
      name: n1,
      peerId: id1.toString(),
      routingKey: hex(multihashToIPNSRoutingKey(id1.toMultihash())),
      record: b64(bytes),
      value: r.value,
      sequence: r.sequence.toString(),
      ttlNs: r.ttl.toString(),
      validity: r.validity,
      v1: true,
      v2: false,
      expectValid: false,
      privateKey: b64(keys.privateKeyToProtobuf(k1)),
      note: 'valid V1 signature but no signatureV2/data: the JS library rejects V1-only records'
    })
  }
  // The JS validator's own verdict on each vector, as of now (the label above is only what
  // the vector was made to be; the comparison with ipfsd is against this).
  for (const v of out_) {
    const r = await validateOne({ label: v.label, name: v.peerId, record: v.record })
    v.jsValid = r.ok
    v.jsError = r.error
  }
  await fs.writeFile(out, JSON.stringify(out_, null, 1) + '\n')
  process.stdout.write(JSON.stringify({ ok: true, count: out_.length, out }) + '\n')
}

// ---------------------------------------------------------------- validate
async function validateOne (c) {
  const res = { label: c?.label ?? null, ok: false, error: null, value: null, sequence: null, validity: null, ttlNs: null, v1: false, v2: false }
  let bytes
  try {
    if (typeof c?.record !== 'string') throw new Error('record (base64) missing')
    bytes = new Uint8Array(Buffer.from(c.record, 'base64'))
    try { Object.assign(res, describe(bytes)) } catch {}
    const peerId = parseName(c.name)
    await ipnsValidator(multihashToIPNSRoutingKey(peerId.toMultihash()), bytes)
    res.ok = true
  } catch (e) {
    res.error = errText(e)
  }
  return res
}

async function validate (inFile) {
  let cases
  try {
    cases = JSON.parse(await fs.readFile(inFile, 'utf8'))
  } catch (e) {
    die(1, `cannot read ${inFile}: ${e.message}`)
  }
  if (!Array.isArray(cases)) die(1, `${inFile}: not a JSON array`)
  const out = []
  for (const c of cases) out.push(await validateOne(c))
  process.stdout.write(JSON.stringify(out) + '\n')
}

// ---------------------------------------------------------------- peer
async function peer (args) {
  let seconds = 600
  let client = false
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--seconds' && i + 1 < args.length) {
      seconds = secondsArg(args[++i], die)
    } else if (args[i] === '--client') {
      client = true
    } else {
      die(2, `unknown argument ${args[i]}\n${USAGE}`)
    }
  }

  let Helia, createLibp2p, tcp, noise, yamux, identify, ping, kadDHT, keychain, ipns, ipnsSelector
  let MemoryBlockstore, MemoryDatastore, multiaddr
  try {
    ({ Helia } = await import('@helia/utils'));
    ({ createLibp2p } = await import('libp2p'));
    ({ tcp } = await import('@libp2p/tcp'));
    ({ noise } = await import('@chainsafe/libp2p-noise'));
    ({ yamux } = await import('@chainsafe/libp2p-yamux'));
    ({ identify } = await import('@libp2p/identify'));
    ({ ping } = await import('@libp2p/ping'));
    ({ kadDHT } = await import('@libp2p/kad-dht'));
    ({ keychain } = await import('@libp2p/keychain'));
    ({ ipns, ipnsSelector } = await import('@helia/ipns'));
    ({ MemoryBlockstore } = await import('blockstore-core/memory'));
    ({ MemoryDatastore } = await import('datastore-core/memory'));
    ({ multiaddr } = await import('@multiformats/multiaddr'))
  } catch (e) {
    die(3, `cannot load the Helia packages (${e.message}); run scripts/setup-peers.sh`)
  }

  const LOOPBACK = /^\/ip4\/127\.\d+\.\d+\.\d+\/tcp\/\d+(\/p2p\/\w+)?$/
  const isLoopback = (ma) => LOOPBACK.test(ma.toString())
  const log = (m) => process.stderr.write(`helia-ipns: ${m}\n`)
  const OP_TIMEOUT_MS = 30000

  const datastore = new MemoryDatastore()
  const privateKey = await keys.generateKeyPair('Ed25519')
  let helia, dht, dhtRouter, names
  try {
    const libp2p = await createLibp2p({
      privateKey,
      datastore,
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      peerDiscovery: [],
      services: {
        identify: identify(),
        ping: ping(),
        keychain: keychain(),
        dht: kadDHT({
          protocol: '/ipfs/kad/1.0.0',
          clientMode: client,
          // The default mapper (removePrivateAddressesMapper) drops 127.0.0.1, so no
          // loopback peer would ever enter the routing table: keep loopback addresses only.
          peerInfoMapper: (info) => ({ ...info, multiaddrs: info.multiaddrs.filter(isLoopback) }),
          // Queries must not wait for a first self-query / a non-empty table (a publish
          // before any connect just stores locally instead of hanging).
          allowQueryWithZeroPeers: true,
          validators: { ipns: ipnsValidator },
          selectors: { ipns: ipnsSelector }
        })
      },
      connectionGater: {
        denyDialMultiaddr: (ma) => !isLoopback(ma.toString().replace(/\/p2p\/\w+$/, '')),
        denyInboundConnection: (maConn) => !isLoopback(maConn.remoteAddr.toString().replace(/\/p2p\/\w+$/, ''))
      }
    })
    dht = libp2p.services.dht
    // Helia's only router: the DHT (records get/put only). Events are collected into
    // options.trace when the caller passes one.
    dhtRouter = {
      name: 'kad-dht',
      async put (key, value, options = {}) {
        for await (const ev of dht.put(key, value, options)) {
          if (ev.name === 'PEER_RESPONSE' && ev.messageName === 'PUT_VALUE') options.trace?.putTo.push(ev.from.toString())
          if (ev.name === 'QUERY_ERROR') options.trace?.errors.push(`${ev.from}: ${errText(ev.error)}`)
        }
      },
      async get (key, options = {}) {
        let best
        for await (const ev of dht.get(key, options)) {
          if (ev.name === 'PEER_RESPONSE' && ev.messageName === 'GET_VALUE' && ev.record != null) options.trace?.sources.push(ev.from.toString())
          if (ev.name === 'QUERY_ERROR') options.trace?.errors.push(`${ev.from}: ${errText(ev.error)}`)
          if (ev.name === 'VALUE' && best == null) {
            best = ev.value
            if (options.trace != null) options.trace.bestFrom = ev.from.toString()
          }
        }
        if (best == null) throw new Error('not found in the DHT')
        return best
      }
    }
    helia = new Helia({
      libp2p,
      blockstore: new MemoryBlockstore(),
      datastore,
      blockBrokers: [],
      routers: [dhtRouter]
    })
    // @helia/ipns: its local store + Helia's routing (= the DHT above); no pubsub, no DNS.
    names = ipns(helia, { routers: [], republishInterval: 24 * 3600 * 1000 })
  } catch (e) {
    emit({ ok: false, error: `setup: ${errText(e)}` })
    process.exit(1)
  }

  const { stop, addrs } = await run(helia, {
    seconds,
    log,
    afterStart: () => helia.libp2p.services.keychain.importKey('self', privateKey)
  })
  const selfId = helia.libp2p.peerId
  emit({ ok: true, peerId: selfId.toString(), addrs, p2p: addrs[0], name: nameOf(selfId), mode: dht.getMode() })

  const routingTablePeers = () => [...(dht.routingTable.kb?.toIterable() ?? [])].map(c => c.peerId.toString())
  const newTrace = () => ({ putTo: [], sources: [], bestFrom: null, errors: [] })
  const recordOut = (rec) => {
    const bytes = marshalIPNSRecord(rec)
    return { ...describe(bytes), record: b64(bytes) }
  }

  const commands = {
    async connect ([addr]) {
      if (!addr || !/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/\w+$/.test(addr)) {
        throw new Error('connect takes /ip4/127.0.0.1/tcp/PORT/p2p/ID only')
      }
      const ma = multiaddr(addr)
      const id = peerIdFromString(ma.getComponents().find(c => c.name === 'p2p').value)
      await helia.libp2p.dial(ma, { signal: AbortSignal.timeout(30000) })
      const t = performance.now()
      while (performance.now() - t < 5000) {
        if (await dht.routingTable.find(id) != null) return { peer: id.toString(), routingTable: true, seconds: (performance.now() - t) / 1000 }
        await new Promise(resolve => setTimeout(resolve, 50))
      }
      let protocols = []
      try { protocols = (await helia.libp2p.peerStore.get(id)).protocols } catch {}
      const e = new Error(`connected, but ${id} is not in the DHT routing table after 5 s (needs /ipfs/kad/1.0.0 in server mode and /ipfs/ping/1.0.0; its protocols: ${protocols.join(' ')})`)
      e.extra = { peer: id.toString(), routingTable: false, protocols }
      throw e
    },
    async publish (rest) {
      const [value, ...more] = rest
      if (!value) throw new Error('usage: publish VALUE [LIFETIME_MS] [TTL_MS] [v1|v2]')
      const nums = []
      let v1Compatible
      for (const a of more) {
        if (a === 'v1') v1Compatible = true
        else if (a === 'v2') v1Compatible = false
        else if (/^\d+$/.test(a)) nums.push(Number(a))
        else throw new Error(`bad publish argument ${a}`)
      }
      if (nums.length > 2) throw new Error('usage: publish VALUE [LIFETIME_MS] [TTL_MS] [v1|v2]')
      const opts = { offline: false, signal: AbortSignal.timeout(OP_TIMEOUT_MS), trace: newTrace() }
      if (nums[0] != null) opts.lifetime = nums[0]
      if (nums[1] != null) opts.ttl = nums[1]
      if (v1Compatible != null) opts.v1Compatible = v1Compatible
      const t = performance.now()
      const { record } = await names.publish('self', value, opts)
      return {
        name: nameOf(selfId),
        ...recordOut(record),
        putTo: opts.trace.putTo,
        dhtErrors: opts.trace.errors,
        seconds: (performance.now() - t) / 1000
      }
    },
    async resolve ([name, flag]) {
      if (!name) throw new Error('usage: resolve NAME [nocache]')
      if (flag != null && flag !== 'nocache') throw new Error(`bad resolve flag ${flag}`)
      const id = parseName(name)
      const opts = { nocache: flag === 'nocache', signal: AbortSignal.timeout(OP_TIMEOUT_MS), trace: newTrace() }
      const t = performance.now()
      const res = await names.resolve(id, opts)
      return {
        name: nameOf(id),
        ...recordOut(res.record),
        cid: res.cid?.toString() ?? null,
        path: res.path ?? null,
        sources: opts.trace.sources,
        bestFrom: opts.trace.bestFrom,
        dhtErrors: opts.trace.errors,
        seconds: (performance.now() - t) / 1000
      }
    },
    async put ([name, rec]) {
      if (!name || !rec) throw new Error('usage: put NAME RECORD_B64')
      const id = parseName(name)
      const trace = newTrace()
      const key = multihashToIPNSRoutingKey(id.toMultihash())
      await dhtRouter.put(key, new Uint8Array(Buffer.from(rec, 'base64')), { signal: AbortSignal.timeout(OP_TIMEOUT_MS), trace })
      return { name: nameOf(id), putTo: trace.putTo, dhtErrors: trace.errors }
    },
    async peers () {
      return { peers: helia.libp2p.getPeers().map(String), routingTable: routingTablePeers() }
    }
  }

  const rl = readline.createInterface({ input: process.stdin })
  for await (const line of rl) {
    const [cmd, ...rest] = line.trim().split(/\s+/)
    if (!cmd) continue
    if (cmd === 'quit') { emit({ ok: true, cmd, error: null }); break }
    log(`cmd: ${line.trim()}`)
    const f = commands[cmd]
    if (!f) { emit({ ok: false, cmd, error: `unknown command ${cmd}` }); continue }
    try {
      emit({ ok: true, cmd, ...(await f(rest)), error: null })
    } catch (e) {
      emit({ ok: false, cmd, ...(e.extra ?? {}), error: errText(e) })
    }
  }
  await stop(0)
}

// ---------------------------------------------------------------- main
const [mode, ...rest] = process.argv.slice(2)
if (mode === 'vectors' && rest.length === 1) {
  try { await vectors(rest[0]) } catch (e) { die(1, `vectors: ${errText(e)}`) }
} else if (mode === 'validate' && rest.length === 1) {
  await validate(rest[0])
} else if (mode === 'peer') {
  await peer(rest)
} else {
  die(2, USAGE)
}
