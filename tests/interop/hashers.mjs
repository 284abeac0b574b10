// Multihash hashers for multiformats (and Helia's `hashers` option), by the multicodec
// table's names, built from @noble/hashes with multiformats' `hasher.from`; sha2-256 and
// sha2-512 are multiformats' own. Used by helia.mjs (re-hashing a UnixFS DAG) and
// helia-peer.mjs (verifying blocks received over BitSwap).

import { from } from 'multiformats/hashes/hasher'
import { sha256, sha512 } from 'multiformats/hashes/sha2'
import { sha3_256, sha3_512, keccak_256 } from '@noble/hashes/sha3.js'
import { blake2b, blake2s } from '@noble/hashes/blake2.js'
import { blake3 } from '@noble/hashes/blake3.js'

const noble = (name, code, fn) => from({ name, code, encode: (bytes) => fn(bytes) })

export const HASHERS = {
  'sha2-256': sha256,
  'sha2-512': sha512,
  'sha3-256': noble('sha3-256', 0x16, sha3_256),
  'sha3-512': noble('sha3-512', 0x14, sha3_512),
  'keccak-256': noble('keccak-256', 0x1b, keccak_256),
  'blake2b-256': noble('blake2b-256', 0xb220, (b) => blake2b(b, { dkLen: 32 })),
  'blake2b-512': noble('blake2b-512', 0xb240, (b) => blake2b(b, { dkLen: 64 })),
  'blake2s-256': noble('blake2s-256', 0xb260, (b) => blake2s(b, { dkLen: 32 })),
  blake3: noble('blake3', 0x1e, (b) => blake3(b))
}

/** The hasher called `name`, or an error listing the known names. */
export function hasherNamed (name) {
  const h = HASHERS[name]
  if (h == null) throw new Error(`unknown hash ${JSON.stringify(name)} (known: ${Object.keys(HASHERS).join(', ')})`)
  return h
}
