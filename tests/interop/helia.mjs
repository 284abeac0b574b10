#!/usr/bin/env node
// Reference peer: Helia / JS UnixFS importer (ipfs-unixfs-importer), no networking.
//
// Usage:
//   node tests/interop/helia.mjs cids SPEC.json
//       SPEC.json: JSON array of cases
//         {"name", "path", "cidVersion": 0|1, "rawLeaves": bool|null,
//          "chunkSize": int, "maxLinks": int|null,
//          "profile": null|"unixfs-v1-2025"|"unixfs-v0-2015", "hidden": bool,
//          optional "shardSplitThresholdBytes": int (default 262144),
//          optional "hash": a multihash name (hashers.mjs; default sha2-256)}
//       prints ONE JSON object {name: rootCidString} on stdout; logs go to stderr.
//       ipfs-unixfs-importer only hashes with sha2-256, so a case with another "hash" is
//       imported with sha2-256 and then re-hashed bottom-up (rehash below): every block's
//       CID recomputed with the multiformats hasher, every dag-pb link's Hash replaced and
//       its Tsize recomputed (block length plus the children's Tsize, as the importers
//       and Kubo define it). The case must ask for CIDv1 (Kubo's rule for --hash).
//   node tests/interop/helia.mjs export-car PATH OUT.car [cidVersion] [rawLeaves]
//       imports PATH (file or directory) and writes a CARv1 (single root) with every
//       block of the DAG (depth-first pre-order, each block once, like `ipfs dag export`);
//       prints the root CID on stdout.
//   node tests/interop/helia.mjs versions
//       prints the versions of the JS packages in use as JSON.
//
// Exit status: 0 on success, 1 on a failed case / bad input, 2 on usage error,
// 3 when node_modules is missing (run scripts/setup-peers.sh).

import { createReadStream, createWriteStream } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'

const here = path.dirname(fileURLToPath(import.meta.url))

function die (code, msg) {
  process.stderr.write(`helia.mjs: ${msg}\n`)
  process.exit(code)
}

let importer, fixedSize, balanced, MemoryBlockstore, CarWriter, dagPb, CID, hasherNamed
try {
  ({ hasherNamed } = await import('./hashers.mjs'));
  ({ importer } = await import('ipfs-unixfs-importer'));
  ({ fixedSize } = await import('ipfs-unixfs-importer/chunker'));
  ({ balanced } = await import('ipfs-unixfs-importer/layout'));
  ({ MemoryBlockstore } = await import('blockstore-core/memory'));
  ({ CarWriter } = await import('@ipld/car/writer'))
  dagPb = await import('@ipld/dag-pb');
  ({ CID } = await import('multiformats/cid'))
} catch (err) {
  die(3, `cannot load JS dependencies from ${here}/node_modules (${err.message}); run scripts/setup-peers.sh`)
}

const KUBO_SHARD_THRESHOLD = 262144 // bytes, Kubo's Internal.UnixFSShardingSizeThreshold default
const DEFAULT_MAX_LINKS = 174 // Kubo / go-unixfs DefaultLinksPerBlock
const PROFILES = {
  // IPIP-499 legacy profile == Kubo's historic defaults
  'unixfs-v0-2015': { cidVersion: 0, rawLeaves: false, chunkSize: 262144, maxLinks: 174, shardSplitStrategy: 'links-bytes' },
  // IPIP-499 profile, as defined by ipfs-unixfs-importer (and Kubo >= 0.40 config/profile.go)
  'unixfs-v1-2025': { cidVersion: 1, rawLeaves: true, chunkSize: 1048576, maxLinks: 1024, shardSplitStrategy: 'block-bytes' }
}

/** Turn a spec case into importer options (Kubo semantics for defaults). */
function importerOptions (c) {
  // optional, helia only: JS shards when estimate > threshold; Kubo < 0.40 when >= threshold,
  // so {"shardSplitThresholdBytes": 262143} reproduces the embedded Kubo v0.22 exactly.
  const threshold = c.shardSplitThresholdBytes ?? KUBO_SHARD_THRESHOLD
  if (!Number.isInteger(threshold) || threshold <= 0) throw new Error(`bad shardSplitThresholdBytes ${threshold}`)
  if (c.profile != null) {
    const p = PROFILES[c.profile]
    if (p == null) throw new Error(`unknown profile ${JSON.stringify(c.profile)}`)
    // the profile decides every layout parameter; cidVersion/rawLeaves/chunkSize/maxLinks of the case are ignored
    return {
      profile: c.profile,
      cidVersion: p.cidVersion,
      rawLeaves: p.rawLeaves,
      chunker: fixedSize({ chunkSize: p.chunkSize }),
      layout: balanced({ maxChildrenPerNode: p.maxLinks }),
      shardSplitThresholdBytes: threshold,
      shardSplitStrategy: p.shardSplitStrategy,
      wrapWithDirectory: false
    }
  }
  const cidVersion = c.cidVersion ?? 0
  if (cidVersion !== 0 && cidVersion !== 1) throw new Error(`bad cidVersion ${cidVersion}`)
  // Kubo: raw leaves are on by default only with CIDv1
  const rawLeaves = c.rawLeaves ?? (cidVersion === 1)
  const chunkSize = c.chunkSize ?? 262144
  if (!Number.isInteger(chunkSize) || chunkSize <= 0) throw new Error(`bad chunkSize ${chunkSize}`)
  const maxLinks = c.maxLinks ?? DEFAULT_MAX_LINKS
  return {
    cidVersion,
    rawLeaves,
    chunker: fixedSize({ chunkSize }),
    layout: balanced({ maxChildrenPerNode: maxLinks }),
    shardSplitThresholdBytes: threshold,
    shardSplitStrategy: 'links-bytes',
    reduceSingleLeafToSelf: true,
    wrapWithDirectory: false
  }
}

function fileContent (p, size) {
  // lazily opened so thousands of files do not hold thousands of descriptors
  return (async function * () {
    if (size <= (1 << 20)) {
      const buf = await fs.readFile(p)
      if (buf.length > 0) yield buf
      return
    }
    for await (const buf of createReadStream(p, { highWaterMark: 1 << 20 })) {
      yield buf
    }
  })()
}

/**
 * Yields import candidates for a file/dir tree rooted at `abs`, all under the
 * virtual path `root`. Hidden entries (name starts with '.') below the root are
 * skipped unless `hidden`. Empty directories are kept (emitted as directory
 * candidates; non-empty directories are created implicitly by their children,
 * because the importer would otherwise replace a populated dir by an empty one).
 * Symlinks below the root become UnixFS symlink nodes (target stored verbatim);
 * a symlink given as the root itself is followed (like Kubo).
 */
async function * candidates (abs, rel, hidden, isRoot) {
  const st = isRoot ? await fs.stat(abs) : await fs.lstat(abs)
  if (st.isSymbolicLink()) {
    yield { path: rel, link: await fs.readlink(abs) }
  } else if (st.isFile()) {
    yield { path: rel, content: fileContent(abs, st.size) }
  } else if (st.isDirectory()) {
    let names = await fs.readdir(abs)
    if (!hidden) names = names.filter(n => !n.startsWith('.'))
    names.sort()
    if (names.length === 0) {
      yield { path: rel }
      return
    }
    for (const n of names) {
      if (n.includes('\\')) throw new Error(`unsupported file name (backslash): ${path.join(abs, n)}`)
      yield * candidates(path.join(abs, n), `${rel}/${n}`, hidden, false)
    }
  } else {
    throw new Error(`unsupported file type: ${abs}`)
  }
}

async function importPath (p, opts, hidden, blockstore) {
  const abs = path.resolve(p)
  let last
  for await (const entry of importer(candidates(abs, 'root', hidden, true), blockstore, opts)) {
    last = entry
  }
  if (last == null || last.path !== 'root') {
    throw new Error(`importer did not yield the root entry for ${abs} (last: ${last?.path})`)
  }
  return last.cid
}

async function getBlock (bs, cid) {
  const parts = []
  for await (const part of bs.get(cid)) parts.push(part)
  if (parts.length === 1) return parts[0]
  return Buffer.concat(parts)
}

/**
 * The CID `cid` (from `bs`, hashed with sha2-256) gets when every block under it is hashed
 * with `hasher` instead; returns { cid, tsize }. `memo` maps old CID strings to results.
 */
async function rehash (bs, cid, hasher, memo) {
  const key = cid.toString()
  const done = memo.get(key)
  if (done != null) return done
  const bytes = await getBlock(bs, cid)
  let out
  if (cid.code === dagPb.code) {
    const node = dagPb.decode(bytes)
    const links = []
    let children = 0
    for (const l of node.Links) {
      const child = await rehash(bs, CID.asCID(l.Hash) ?? CID.decode(l.Hash.bytes), hasher, memo)
      children += child.tsize
      links.push({ ...l, Hash: child.cid, Tsize: child.tsize })
    }
    const encoded = dagPb.encode({ ...node, Links: links })
    out = { cid: CID.createV1(dagPb.code, await hasher.digest(encoded)), tsize: encoded.length + children }
  } else if (cid.code === 0x55) {
    out = { cid: CID.createV1(0x55, await hasher.digest(bytes)), tsize: bytes.length }
  } else {
    throw new Error(`unexpected codec 0x${cid.code.toString(16)} in a UnixFS DAG`)
  }
  memo.set(key, out)
  return out
}

async function cmdCids (specPath) {
  let spec
  try {
    spec = JSON.parse(await fs.readFile(specPath, 'utf8'))
  } catch (err) {
    die(1, `cannot read spec ${specPath}: ${err.message}`)
  }
  if (!Array.isArray(spec)) die(1, 'spec must be a JSON array of cases')
  const out = {}
  let failed = false
  for (const c of spec) {
    const t0 = performance.now()
    try {
      if (typeof c.name !== 'string' || typeof c.path !== 'string') throw new Error('case needs string "name" and "path"')
      if (c.name in out) throw new Error(`duplicate case name ${c.name}`)
      const opts = importerOptions(c)
      const bs = new MemoryBlockstore()
      let cid = await importPath(c.path, opts, c.hidden === true, bs)
      if (c.hash != null && c.hash !== 'sha2-256') {
        if (opts.cidVersion !== 1) throw new Error(`hash ${c.hash} needs cidVersion 1`)
        cid = (await rehash(bs, cid, hasherNamed(c.hash), new Map())).cid
      }
      out[c.name] = cid.toString()
      process.stderr.write(`helia: ${c.name}: ${out[c.name]} (${(performance.now() - t0).toFixed(0)} ms)\n`)
    } catch (err) {
      failed = true
      process.stderr.write(`helia: case ${c?.name}: ERROR ${err.stack ?? err}\n`)
    }
  }
  if (failed) die(1, 'one or more cases failed')
  process.stdout.write(JSON.stringify(out) + '\n')
}

function parseBool (s, name) {
  if (s === undefined || s === 'null' || s === 'default') return null
  if (s === 'true' || s === '1') return true
  if (s === 'false' || s === '0') return false
  die(2, `bad ${name} ${s} (expected true|false)`)
}

async function cmdExportCar (p, outPath, cidVersionArg, rawLeavesArg) {
  let cidVersion = 0
  if (cidVersionArg !== undefined) {
    cidVersion = Number(cidVersionArg)
    if (cidVersion !== 0 && cidVersion !== 1) die(2, `bad cidVersion ${cidVersionArg}`)
  }
  const rawLeaves = parseBool(rawLeavesArg, 'rawLeaves')
  const bs = new MemoryBlockstore()
  const hidden = process.env.INTEROP_HIDDEN === '1'
  const root = await importPath(p, importerOptions({ cidVersion, rawLeaves, chunkSize: 262144, maxLinks: null, profile: null }), hidden, bs)

  const { writer, out } = CarWriter.create([root])
  const ws = createWriteStream(outPath)
  const done = (async () => {
    for await (const chunk of out) {
      if (!ws.write(chunk)) await new Promise(resolve => ws.once('drain', resolve))
    }
    await new Promise((resolve, reject) => ws.end(err => err ? reject(err) : resolve()))
  })()
  // depth-first pre-order, each block once (same order as Kubo's `ipfs dag export`)
  const seen = new Set()
  const stack = [root]
  let count = 0
  while (stack.length > 0) {
    const cid = stack.pop()
    const key = cid.toString()
    if (seen.has(key)) continue
    seen.add(key)
    const bytes = await getBlock(bs, cid)
    await writer.put({ cid, bytes })
    count++
    if (cid.code === dagPb.code) {
      const node = dagPb.decode(bytes)
      for (let i = node.Links.length - 1; i >= 0; i--) stack.push(CID.asCID(node.Links[i].Hash) ?? CID.decode(node.Links[i].Hash.bytes))
    } else if (cid.code !== 0x55) {
      throw new Error(`unexpected codec 0x${cid.code.toString(16)} in DAG`)
    }
  }
  await writer.close()
  await done
  process.stderr.write(`helia: wrote ${count} blocks to ${outPath}\n`)
  process.stdout.write(root.toString() + '\n')
}

function versions () {
  const require = createRequire(path.join(here, 'package.json'))
  const out = { node: process.versions.node }
  for (const name of ['ipfs-unixfs-importer', 'ipfs-unixfs', 'blockstore-core', '@ipld/car', '@ipld/dag-pb', 'multiformats']) {
    try {
      // package.json may not be in "exports"; read it from disk instead
      const pj = JSON.parse(require('node:fs').readFileSync(path.join(here, 'node_modules', name, 'package.json'), 'utf8'))
      out[name] = pj.version
    } catch {
      out[name] = null
    }
  }
  process.stdout.write(JSON.stringify(out) + '\n')
}

const [cmd, ...args] = process.argv.slice(2)
try {
  if (cmd === 'cids' && args.length === 1) {
    await cmdCids(args[0])
  } else if (cmd === 'export-car' && args.length >= 2 && args.length <= 4) {
    await cmdExportCar(...args)
  } else if (cmd === 'versions' && args.length === 0) {
    versions()
  } else {
    die(2, 'usage: helia.mjs cids SPEC.json | helia.mjs export-car PATH OUT.car [cidVersion 0|1] [rawLeaves true|false] | helia.mjs versions')
  }
} catch (err) {
  die(1, err.stack ?? String(err))
}
