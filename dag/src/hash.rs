//! Multihash functions: which ones ipfsd can make and check, by Kubo's names.
//!
//! Data flow: writers (`add --hash`, `block put --mhtype`, `dag put --hash`) pick a
//! [`HashFn`] and call [`HashFn::digest`]; every block that arrives from outside, and every
//! block a read-verify looks at, goes through [`crate::block::verify`], which hashes with the function the
//! CID names. A function not listed here is refused ([`HashError::Unsupported`]), never
//! passed as valid.

use multihash::Multihash;

/// The largest digest a CID here can carry (the `cid` crate's `Multihash<64>`).
pub const MAX_DIGEST: usize = 64;

/// Digests shorter than this are refused for every function but identity: a truncated
/// 8-byte "hash" would let a peer forge blocks (Kubo's `verifcid` has the same floor).
pub const MIN_DIGEST: usize = 20;

/// A hash function a CID can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HashFn {
    /// sha2-256 (0x12), the default.
    Sha2_256,
    /// sha2-512 (0x13).
    Sha2_512,
    /// sha3-256 (0x16).
    Sha3_256,
    /// sha3-512 (0x14).
    Sha3_512,
    /// keccak-256 (0x1b), as used by Ethereum.
    Keccak256,
    /// blake2b-256 (0xb220).
    Blake2b256,
    /// blake2b-512 (0xb240).
    Blake2b512,
    /// blake2s-256 (0xb260).
    Blake2s256,
    /// blake3 (0x1e), 32-byte output unless the multihash asks for another length.
    Blake3,
    /// identity (0x00): the "digest" is the data itself.
    Identity,
}

/// A hash function could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HashError {
    /// The multihash code names a function this node does not implement.
    #[error("unsupported hash function 0x{code:x}")]
    Unsupported {
        /// The multihash code.
        code: u64,
    },
    /// The name is not one of Kubo's hash names that ipfsd implements.
    #[error("unknown hash function {name:?} (known: {})", HashFn::names().join(", "))]
    UnknownName {
        /// What was given.
        name: String,
    },
    /// The data is too long to be inlined in an identity multihash.
    #[error("{len} bytes do not fit an identity CID (at most {MAX_DIGEST})")]
    IdentityTooLong {
        /// The data's length.
        len: usize,
    },
    /// The multihash's digest length is not one this function can produce safely.
    #[error("digest length {len} is not valid for {name}")]
    BadLength {
        /// The function's name.
        name: &'static str,
        /// The digest length the multihash declares.
        len: usize,
    },
}

const ALL: [HashFn; 10] = [
    HashFn::Sha2_256,
    HashFn::Sha2_512,
    HashFn::Sha3_256,
    HashFn::Sha3_512,
    HashFn::Keccak256,
    HashFn::Blake2b256,
    HashFn::Blake2b512,
    HashFn::Blake2s256,
    HashFn::Blake3,
    HashFn::Identity,
];

impl HashFn {
    /// Every function, in the order `cid hashes` lists them.
    pub fn all() -> &'static [HashFn] {
        &ALL
    }

    /// Kubo's names of every function.
    pub fn names() -> Vec<&'static str> {
        ALL.iter().map(|h| h.name()).collect()
    }

    /// The multihash code.
    pub fn code(self) -> u64 {
        match self {
            HashFn::Sha2_256 => 0x12,
            HashFn::Sha2_512 => 0x13,
            HashFn::Sha3_256 => 0x16,
            HashFn::Sha3_512 => 0x14,
            HashFn::Keccak256 => 0x1b,
            HashFn::Blake2b256 => 0xb220,
            HashFn::Blake2b512 => 0xb240,
            HashFn::Blake2s256 => 0xb260,
            HashFn::Blake3 => 0x1e,
            HashFn::Identity => 0x00,
        }
    }

    /// The multicodec table's name (also what Kubo's `--hash` takes).
    pub fn name(self) -> &'static str {
        match self {
            HashFn::Sha2_256 => "sha2-256",
            HashFn::Sha2_512 => "sha2-512",
            HashFn::Sha3_256 => "sha3-256",
            HashFn::Sha3_512 => "sha3-512",
            HashFn::Keccak256 => "keccak-256",
            HashFn::Blake2b256 => "blake2b-256",
            HashFn::Blake2b512 => "blake2b-512",
            HashFn::Blake2s256 => "blake2s-256",
            HashFn::Blake3 => "blake3",
            HashFn::Identity => "identity",
        }
    }

    /// The function with multihash code `code`.
    pub fn from_code(code: u64) -> Result<Self, HashError> {
        ALL.iter()
            .copied()
            .find(|h| h.code() == code)
            .ok_or(HashError::Unsupported { code })
    }

    /// The function Kubo calls `name` (case-insensitive; `sha256` and `sha512` accepted).
    pub fn from_name(name: &str) -> Result<Self, HashError> {
        let lower = name.to_ascii_lowercase();
        let lower = match lower.as_str() {
            "sha256" => "sha2-256",
            "sha512" => "sha2-512",
            other => other,
        };
        ALL.iter()
            .copied()
            .find(|h| h.name() == lower)
            .ok_or_else(|| HashError::UnknownName {
                name: name.to_string(),
            })
    }

    /// The digest length this function produces by default.
    pub fn default_len(self) -> usize {
        match self {
            HashFn::Sha2_512 | HashFn::Sha3_512 | HashFn::Blake2b512 => 64,
            HashFn::Identity => 0,
            _ => 32,
        }
    }

    /// The multihash of `data` with this function, at its default length.
    pub fn digest(self, data: &[u8]) -> Result<Multihash<MAX_DIGEST>, HashError> {
        if self == HashFn::Identity && data.len() > MAX_DIGEST {
            return Err(HashError::IdentityTooLong { len: data.len() });
        }
        let mut out = [0u8; MAX_DIGEST];
        let len = if self == HashFn::Identity {
            data.len()
        } else {
            self.default_len()
        };
        self.fill(data, &mut out[..len]);
        Multihash::wrap(self.code(), &out[..len]).map_err(|_| HashError::BadLength {
            name: self.name(),
            len,
        })
    }

    /// Writes the first `out.len()` bytes of this function's output for `data` (at most
    /// its default length; blake3, an extendable-output function, up to [`MAX_DIGEST`]).
    fn fill(self, data: &[u8], out: &mut [u8]) {
        use sha2::Digest as _;
        fn take(out: &mut [u8], full: &[u8]) {
            let n = out.len().min(full.len());
            out[..n].copy_from_slice(&full[..n]);
        }
        match self {
            HashFn::Sha2_256 => take(out, &sha2::Sha256::digest(data)),
            HashFn::Sha2_512 => take(out, &sha2::Sha512::digest(data)),
            HashFn::Sha3_256 => take(out, &sha3::Sha3_256::digest(data)),
            HashFn::Sha3_512 => take(out, &sha3::Sha3_512::digest(data)),
            HashFn::Keccak256 => take(out, &sha3::Keccak256::digest(data)),
            HashFn::Blake2b256 => take(
                out,
                &blake2::Blake2b::<blake2::digest::consts::U32>::digest(data),
            ),
            HashFn::Blake2b512 => take(out, &blake2::Blake2b512::digest(data)),
            HashFn::Blake2s256 => take(out, &blake2::Blake2s256::digest(data)),
            HashFn::Blake3 => {
                let mut h = blake3::Hasher::new();
                h.update(data);
                h.finalize_xof().fill(out);
            }
            HashFn::Identity => take(out, data),
        }
    }
}

impl std::fmt::Display for HashFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for HashFn {
    type Err = HashError;
    fn from_str(s: &str) -> Result<Self, HashError> {
        HashFn::from_name(s)
    }
}

impl HashFn {
    /// The multihash of `data` with this function cut (or, for blake3, extended) to `len`
    /// bytes, as a CID prefix naming a digest length asks (BitSwap's block prefixes). The
    /// length must be one [`matches()`] accepts; identity needs `len == data.len()`.
    pub fn digest_len(self, data: &[u8], len: usize) -> Result<Multihash<MAX_DIGEST>, HashError> {
        if self == HashFn::Identity {
            if len != data.len() {
                return Err(HashError::BadLength {
                    name: self.name(),
                    len,
                });
            }
            return self.digest(data);
        }
        self.check_len(len)?;
        let mut out = [0u8; MAX_DIGEST];
        self.fill(data, &mut out[..len]);
        Multihash::wrap(self.code(), &out[..len]).map_err(|_| HashError::BadLength {
            name: self.name(),
            len,
        })
    }

    /// Whether a digest of `len` bytes is one this function can check: at least
    /// [`MIN_DIGEST`], at most its output (blake3: [`MAX_DIGEST`]).
    fn check_len(self, len: usize) -> Result<(), HashError> {
        let max = if self == HashFn::Blake3 {
            MAX_DIGEST
        } else {
            self.default_len()
        };
        if len < MIN_DIGEST || len > max {
            return Err(HashError::BadLength {
                name: self.name(),
                len,
            });
        }
        Ok(())
    }
}

/// Whether `data` hashes to `mh`: `Ok(true)` or `Ok(false)`, or an error when `mh` names a
/// function or a digest length this node cannot check.
pub fn matches(mh: &Multihash<MAX_DIGEST>, data: &[u8]) -> Result<bool, HashError> {
    let f = HashFn::from_code(mh.code())?;
    let want = mh.digest();
    if f == HashFn::Identity {
        return Ok(want == data);
    }
    f.check_len(want.len())?;
    let mut out = [0u8; MAX_DIGEST];
    f.fill(data, &mut out[..want.len()]);
    Ok(out[..want.len()] == *want)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex_digest(f: HashFn, data: &[u8]) -> String {
        hex::encode(f.digest(data).expect("digest").digest())
    }

    /// Published test vectors: FIPS 180-4 / FIPS 202 "abc", the Keccak team's, RFC 7693
    /// (BLAKE2b-512 and BLAKE2s-256 of "abc") and the BLAKE3 reference's empty input.
    #[test]
    fn published_vectors() {
        let abc = b"abc";
        for (f, data, want) in [
            (
                HashFn::Sha2_256,
                &abc[..],
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
            (
                HashFn::Sha2_512,
                &abc[..],
                "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
            ),
            (
                HashFn::Sha3_256,
                &abc[..],
                "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532",
            ),
            (
                HashFn::Sha3_512,
                &abc[..],
                "b751850b1a57168a5693cd924b6b096e08f621827444f70d884f5d0240d2712e10e116e9192af3c91a7ec57647e3934057340b4cf408d5a56592f8274eec53f0",
            ),
            (
                HashFn::Keccak256,
                &b""[..],
                "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470",
            ),
            (
                HashFn::Blake2b512,
                &abc[..],
                "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923",
            ),
            (
                HashFn::Blake2s256,
                &abc[..],
                "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982",
            ),
            (
                HashFn::Blake2b256,
                &abc[..],
                "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319",
            ),
            (
                HashFn::Blake3,
                &b""[..],
                "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
            ),
            (HashFn::Identity, &abc[..], "616263"),
        ] {
            assert_eq!(hex_digest(f, data), want, "{f}");
        }
    }

    /// The empty input (and "abc" for the two functions whose "abc" vector is not above),
    /// from the same specifications' published examples: every function has a vector.
    #[test]
    fn empty_input_vectors() {
        for (f, data, want) in [
            (
                HashFn::Sha2_256,
                &b""[..],
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
            (
                HashFn::Sha2_512,
                &b""[..],
                "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
            ),
            (
                HashFn::Sha3_256,
                &b""[..],
                "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a",
            ),
            (
                HashFn::Sha3_512,
                &b""[..],
                "a69f73cca23a9ac5c8b567dc185a756e97c982164fe25859e0d1dcc1475c80a615b2123af1f5f94c11e3e9402c3ac558f500199d95b6d3e301758586281dcd26",
            ),
            (
                HashFn::Keccak256,
                &b"abc"[..],
                "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45",
            ),
            (
                HashFn::Blake2b256,
                &b""[..],
                "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8",
            ),
            (
                HashFn::Blake2s256,
                &b""[..],
                "69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9",
            ),
            (
                HashFn::Blake3,
                &b"abc"[..],
                "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85",
            ),
            (HashFn::Identity, &b""[..], ""),
        ] {
            assert_eq!(hex_digest(f, data), want, "{f}");
        }
    }

    #[test]
    fn names_and_codes_round_trip() {
        for &f in HashFn::all() {
            assert_eq!(HashFn::from_name(f.name()), Ok(f));
            assert_eq!(HashFn::from_code(f.code()), Ok(f));
        }
        assert_eq!(HashFn::from_name("SHA2-256"), Ok(HashFn::Sha2_256));
        assert!(matches!(
            HashFn::from_name("md5"),
            Err(HashError::UnknownName { .. })
        ));
        assert!(matches!(
            HashFn::from_code(0xd5),
            Err(HashError::Unsupported { code: 0xd5 })
        ));
    }

    #[test]
    fn matching_checks_each_function_and_refuses_short_digests() {
        for &f in HashFn::all() {
            let mh = f.digest(b"hello").expect("digest");
            assert_eq!(matches(&mh, b"hello"), Ok(true), "{f}");
            assert_eq!(matches(&mh, b"hellp"), Ok(false), "{f}");
        }
        let short = Multihash::<64>::wrap(0x12, &[0u8; 8]).expect("wrap");
        assert!(matches!(
            matches(&short, b""),
            Err(HashError::BadLength { len: 8, .. })
        ));
        let unknown = Multihash::<64>::wrap(0xd5, &[0u8; 16]).expect("wrap");
        assert!(matches!(
            matches(&unknown, b""),
            Err(HashError::Unsupported { code: 0xd5 })
        ));
        // A truncated sha2-256 (as go-multihash allows) checks its prefix.
        let full = HashFn::Sha2_256.digest(b"x").expect("digest");
        let cut = Multihash::<64>::wrap(0x12, &full.digest()[..24]).expect("wrap");
        assert_eq!(matches(&cut, b"x"), Ok(true));
        assert!(HashFn::Identity.digest(&[0u8; 65]).is_err());
    }

    #[test]
    fn digest_len_follows_the_prefix_length() {
        for &f in HashFn::all() {
            if f == HashFn::Identity {
                continue;
            }
            let full = f.digest(b"data").expect("digest");
            let same = f
                .digest_len(b"data", f.default_len())
                .expect("default length");
            assert_eq!(full, same, "{f}");
            let cut = f.digest_len(b"data", 20).expect("truncated");
            assert_eq!(cut.digest(), &full.digest()[..20], "{f}");
            assert_eq!(matches(&cut, b"data"), Ok(true), "{f}");
            assert!(f.digest_len(b"data", 19).is_err(), "{f}: below the floor");
        }
        assert!(HashFn::Sha2_256.digest_len(b"x", 33).is_err());
        let long = HashFn::Blake3.digest_len(b"x", 64).expect("blake3 extends");
        assert_eq!(matches(&long, b"x"), Ok(true));
        assert!(HashFn::Identity.digest_len(b"abc", 3).is_ok());
        assert!(HashFn::Identity.digest_len(b"abc", 2).is_err());
    }
}
