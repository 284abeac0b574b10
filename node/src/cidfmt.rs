//! The `cid` utilities (Kubo's `ipfs cid format|base32|bases|codecs|hashes`): CIDs
//! rewritten in another version or multibase, and printed through format strings.
//!
//! Data flow: pure functions from a parsed [`Cid`] (and options) to strings; the CLI calls
//! them locally and the RPC API (`/api/v0/cid/*`) calls the same ones.
//!
//! Format tokens (as go-cid's `Format`): `%%` a percent sign, `%b` / `%B` the multibase
//! name / prefix character, `%v` / `%V` the version as `cidv1` / `1`, `%c` / `%C` the codec
//! name / code, `%h` / `%H` the hash function name / code, `%L` the digest length, `%m` /
//! `%M` the multihash in the base with / without the multibase prefix, `%d` / `%D` the
//! digest likewise, `%s` / `%S` the CID likewise, `%P` the prefix `cidv1-dag-pb-sha2-256-32`.

use dag::codec::Codec;
use dag::hash::HashFn;
use dag::{Cid, Version};
use multibase::Base;

/// A `cid` command could not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CidError {
    /// The multibase name or prefix is not known.
    #[error("unknown multibase {name:?} (see `cid bases`)")]
    UnknownBase {
        /// What was given.
        name: String,
    },
    /// The version is neither 0 nor 1.
    #[error("invalid CID version {given:?}: expected 0 or 1")]
    BadVersion {
        /// What was given.
        given: String,
    },
    /// Only dag-pb sha2-256 CIDs have a version 0 form.
    #[error("cannot convert {cid} to CIDv0: only dag-pb sha2-256 CIDs have one")]
    NoV0 {
        /// The CID.
        cid: String,
    },
    /// CIDv0 is always base58btc.
    #[error("CIDv0 is always base58btc: use -v 1 to write {cid} in {base}")]
    V0Base {
        /// The CID.
        cid: String,
        /// The base asked for.
        base: &'static str,
    },
    /// A `%` token this implementation does not know.
    #[error("unsupported format token %{token} in {format:?} (see `cid format --help`)")]
    BadToken {
        /// The character after `%`.
        token: char,
        /// The whole format string.
        format: String,
    },
    /// The format string ends with a lone `%`.
    #[error("format {format:?} ends with a lone %")]
    TrailingPercent {
        /// The format string.
        format: String,
    },
}

/// Every multibase, with its name in the multibase table, in prefix order.
pub const BASES: [(Base, &str); 25] = [
    (Base::Identity, "identity"),
    (Base::Base2, "base2"),
    (Base::Base8, "base8"),
    (Base::Base10, "base10"),
    (Base::Base16Upper, "base16upper"),
    (Base::Base32Upper, "base32upper"),
    (Base::Base32PadUpper, "base32padupper"),
    (Base::Base36Upper, "base36upper"),
    (Base::Base64Pad, "base64pad"),
    (Base::Base45, "base45"),
    (Base::Base32HexPadUpper, "base32hexpadupper"),
    (Base::Base64UrlPad, "base64urlpad"),
    (Base::Base32HexUpper, "base32hexupper"),
    (Base::Base58Flickr, "base58flickr"),
    (Base::Base32Lower, "base32"),
    (Base::Base32PadLower, "base32pad"),
    (Base::Base16Lower, "base16"),
    (Base::Base32Z, "base32z"),
    (Base::Base36Lower, "base36"),
    (Base::Base64, "base64"),
    (Base::Base32HexPadLower, "base32hexpad"),
    (Base::Base64Url, "base64url"),
    (Base::Base32HexLower, "base32hex"),
    (Base::Base58Btc, "base58btc"),
    (Base::Base256Emoji, "base256emoji"),
];

/// The name of `base`.
pub fn base_name(base: Base) -> &'static str {
    BASES
        .iter()
        .find(|(b, _)| *b == base)
        .map(|(_, n)| *n)
        .unwrap_or("unknown")
}

/// The base named `name` (`base32`), or whose prefix is `name` (`b`).
pub fn base_named(name: &str) -> Result<Base, CidError> {
    if let Some((b, _)) = BASES.iter().find(|(_, n)| *n == name) {
        return Ok(*b);
    }
    let mut chars = name.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => Base::from_code(c).ok(),
        _ => None,
    }
    .ok_or_else(|| CidError::UnknownBase {
        name: name.to_string(),
    })
}

/// The base a CID string was written in (base58btc for CIDv0).
pub fn base_of(input: &str) -> Base {
    match input.chars().next() {
        Some('Q') if input.len() == 46 => Base::Base58Btc,
        Some(c) => Base::from_code(c).unwrap_or(Base::Base58Btc),
        None => Base::Base58Btc,
    }
}

/// Parses `-v`.
pub fn version_named(v: &str) -> Result<Version, CidError> {
    match v {
        "0" => Ok(Version::V0),
        "1" => Ok(Version::V1),
        other => Err(CidError::BadVersion {
            given: other.to_string(),
        }),
    }
}

/// `cid` rewritten as `version`.
pub fn to_version(cid: &Cid, version: Version) -> Result<Cid, CidError> {
    match version {
        Version::V1 => Ok(Cid::new_v1(cid.codec(), *cid.hash())),
        Version::V0 => Cid::new_v0(*cid.hash())
            .ok()
            .filter(|_| cid.codec() == dag::block::DAG_PB)
            .ok_or_else(|| CidError::NoV0 {
                cid: cid.to_string(),
            }),
    }
}

/// The CID string in `base` (with its multibase prefix; CIDv0 only in base58btc).
pub fn cid_in(cid: &Cid, base: Base) -> Result<String, CidError> {
    match cid.version() {
        Version::V0 if base == Base::Base58Btc => Ok(cid.to_string()),
        Version::V0 => Err(CidError::V0Base {
            cid: cid.to_string(),
            base: base_name(base),
        }),
        Version::V1 => Ok(multibase::encode(base, cid.to_bytes())),
    }
}

fn codec_name(code: u64) -> String {
    Codec::from_code(code).to_string()
}

fn hash_name(code: u64) -> String {
    HashFn::from_code(code)
        .map(|h| h.name().to_string())
        .unwrap_or_else(|_| format!("0x{code:x}"))
}

/// `format` filled in for `cid`, in `base` (what `%s`, `%m`, `%d` and their upper-case
/// forms use).
pub fn format(cid: &Cid, fmt: &str, base: Base) -> Result<String, CidError> {
    let mut out = String::new();
    let mut chars = fmt.chars();
    let without_prefix = |s: String| -> String { s.chars().skip(1).collect() };
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(t) = chars.next() else {
            return Err(CidError::TrailingPercent {
                format: fmt.to_string(),
            });
        };
        let version = match cid.version() {
            Version::V0 => 0,
            Version::V1 => 1,
        };
        let mh = cid.hash();
        match t {
            '%' => out.push('%'),
            'b' => out.push_str(base_name(base)),
            'B' => out.push(base.code()),
            'v' => out.push_str(&format!("cidv{version}")),
            'V' => out.push_str(&version.to_string()),
            'c' => out.push_str(&codec_name(cid.codec())),
            'C' => out.push_str(&cid.codec().to_string()),
            'h' => out.push_str(&hash_name(mh.code())),
            'H' => out.push_str(&mh.code().to_string()),
            'L' => out.push_str(&mh.size().to_string()),
            'm' => out.push_str(&multibase::encode(base, mh.to_bytes())),
            'M' => out.push_str(&without_prefix(multibase::encode(base, mh.to_bytes()))),
            'd' => out.push_str(&multibase::encode(base, mh.digest())),
            'D' => out.push_str(&without_prefix(multibase::encode(base, mh.digest()))),
            's' => out.push_str(&cid_in(cid, base)?),
            'S' => match cid.version() {
                Version::V0 => out.push_str(&cid_in(cid, base)?),
                Version::V1 => out.push_str(&without_prefix(cid_in(cid, base)?)),
            },
            'P' => out.push_str(&format!(
                "cidv{version}-{}-{}-{}",
                codec_name(cid.codec()),
                hash_name(mh.code()),
                mh.size()
            )),
            other => {
                return Err(CidError::BadToken {
                    token: other,
                    format: fmt.to_string(),
                });
            }
        }
    }
    Ok(out)
}

/// What `cid format` does to each CID.
#[derive(Debug, Clone, Default)]
pub struct FormatOptions {
    /// The format string (`%s` when `None`).
    pub format: Option<String>,
    /// Rewrite to this version.
    pub version: Option<Version>,
    /// Write in this base (the input's own base when `None`; a CIDv0 asked for in another
    /// base becomes CIDv1 unless `-v 0` was given).
    pub base: Option<Base>,
}

/// `cid format` for one input string.
pub fn format_one(input: &str, opts: &FormatOptions) -> Result<String, String> {
    let cid = dag::block::parse_cid(input).map_err(|e| e.to_string())?;
    let version = match (opts.version, opts.base) {
        (Some(v), _) => Some(v),
        (None, Some(b)) if cid.version() == Version::V0 && b != Base::Base58Btc => {
            Some(Version::V1)
        }
        _ => None,
    };
    let cid = match version {
        Some(v) => to_version(&cid, v).map_err(|e| e.to_string())?,
        None => cid,
    };
    let base = match (opts.base, cid.version()) {
        (Some(b), _) => b,
        (None, Version::V0) => Base::Base58Btc,
        // A CIDv0 rewritten as v1 goes to base32 (Kubo's default), otherwise the input's base.
        (None, Version::V1) if version.is_some() => Base::Base32Lower,
        (None, Version::V1) => base_of(input),
    };
    format(&cid, opts.format.as_deref().unwrap_or("%s"), base).map_err(|e| e.to_string())
}

/// `cid base32`: CIDv1 in base32.
pub fn base32(input: &str) -> Result<String, String> {
    format_one(
        input,
        &FormatOptions {
            format: None,
            version: Some(Version::V1),
            base: Some(Base::Base32Lower),
        },
    )
}

/// `cid bases`: prefix character (as a number) and name, by prefix.
pub fn bases() -> Vec<(u32, &'static str)> {
    let mut v: Vec<(u32, &str)> = BASES.iter().map(|(b, n)| (b.code() as u32, *n)).collect();
    v.sort();
    v
}

/// `cid codecs`: code and name of each codec ipfsd knows.
pub fn codecs() -> Vec<(u64, &'static str)> {
    let mut v: Vec<(u64, &str)> = Codec::all().map(|(c, n)| (c.code(), n)).collect();
    v.sort();
    v
}

/// `cid hashes`: code and name of each hash function ipfsd implements.
pub fn hashes() -> Vec<(u64, &'static str)> {
    let mut v: Vec<(u64, &str)> = HashFn::all().iter().map(|h| (h.code(), h.name())).collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    const V0: &str = "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn";
    const V1: &str = "bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354";

    #[test]
    fn base32_upgrades_v0() {
        assert_eq!(base32(V0).expect("v0"), V1);
        assert_eq!(base32(V1).expect("v1"), V1);
    }

    #[test]
    fn tokens() {
        let cid = dag::block::parse_cid(V1).expect("cid");
        assert_eq!(
            format(&cid, "%P %b %B %v %V %c %C %h %H %L", Base::Base32Lower).expect("fmt"),
            "cidv1-dag-pb-sha2-256-32 base32 b cidv1 1 dag-pb 112 sha2-256 18 32"
        );
        assert_eq!(
            format(&cid, "%s|%S", Base::Base32Lower).expect("fmt"),
            format!("{V1}|{}", &V1[1..])
        );
        // The multihash in base58btc without prefix is the CIDv0 string.
        assert_eq!(format(&cid, "%M", Base::Base58Btc).expect("fmt"), V0);
        assert_eq!(format(&cid, "100%%", Base::Base58Btc).expect("fmt"), "100%");
        assert!(matches!(
            format(&cid, "%x", Base::Base58Btc),
            Err(CidError::BadToken { token: 'x', .. })
        ));
        assert!(matches!(
            format(&cid, "%", Base::Base58Btc),
            Err(CidError::TrailingPercent { .. })
        ));
    }

    #[test]
    fn versions_and_bases() {
        let opts = |v: Option<&str>, b: Option<&str>| FormatOptions {
            format: None,
            version: v.map(|v| version_named(v).expect("v")),
            base: b.map(|b| base_named(b).expect("b")),
        };
        assert_eq!(format_one(V1, &opts(Some("0"), None)).expect("v0"), V0);
        assert_eq!(
            format_one(V0, &opts(None, Some("base32"))).expect("b32"),
            V1
        );
        let b58 = format_one(V1, &opts(None, Some("z"))).expect("z");
        assert!(b58.starts_with('z'));
        assert_eq!(
            format_one(&b58, &opts(None, None)).expect("keeps base"),
            b58
        );
        let raw = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";
        assert!(format_one(raw, &opts(Some("0"), None)).is_err());
        assert!(format_one(V0, &opts(Some("0"), Some("base32"))).is_err());
        assert!(version_named("2").is_err());
        assert!(base_named("base99").is_err());
    }

    #[test]
    fn lists_are_sorted_and_complete() {
        assert_eq!(bases().len(), BASES.len());
        assert!(bases().contains(&(u32::from('b'), "base32")));
        assert!(codecs().contains(&(0x71, "dag-cbor")));
        assert!(hashes().contains(&(0x1e, "blake3")));
        assert!(hashes().windows(2).all(|w| w[0] < w[1]));
    }
}
