//! IPNS names: the peer id (multihash of a public key) that owns a record.
//!
//! Text form out: a CIDv1 with the `libp2p-key` codec (0x72) in lowercase
//! base36 (`k51…` for Ed25519). Text form in: that, any other multibase
//! encoding of such a CID, or a bare base58 peer id (`12D3Koo…`, `Qm…`),
//! optionally behind `/ipns/`. DHT form: `/ipns/` followed by the peer id's
//! binary multihash ([`Name::routing_key`]).

use std::fmt;
use std::str::FromStr;

use cid::Cid;
use libp2p_identity::{PeerId, PublicKey};
use multibase::Base;

use crate::Error;

/// Multicodec code of `libp2p-key`, the codec of a CID naming a public key.
pub const LIBP2P_KEY_CODEC: u64 = 0x72;

/// Multihash code of `identity` (the key is inlined, not hashed).
const IDENTITY_MULTIHASH: u64 = 0x00;

/// Prefix of IPNS paths and of IPNS DHT keys.
pub const IPNS_PREFIX: &str = "/ipns/";

/// An IPNS name: the peer id of the key that signs its records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(PeerId);

impl Name {
    /// The name of records signed by `peer`'s key.
    pub fn new(peer: PeerId) -> Self {
        Name(peer)
    }

    /// The peer id this name is.
    pub fn peer_id(&self) -> PeerId {
        self.0
    }

    /// `/ipns/` followed by the binary peer id: the key IPNS records are
    /// stored under in the DHT.
    pub fn routing_key(&self) -> Vec<u8> {
        let id = self.0.to_bytes();
        let mut key = Vec::with_capacity(IPNS_PREFIX.len() + id.len());
        key.extend_from_slice(IPNS_PREFIX.as_bytes());
        key.extend_from_slice(&id);
        key
    }

    /// Parses a DHT key made by [`Name::routing_key`].
    pub fn from_routing_key(key: &[u8]) -> Result<Self, Error> {
        let id = key
            .strip_prefix(IPNS_PREFIX.as_bytes())
            .ok_or(Error::BadRoutingKey {
                reason: "does not start with /ipns/",
            })?;
        PeerId::from_bytes(id)
            .map(Name)
            .map_err(|_| Error::BadRoutingKey {
                reason: "the part after /ipns/ is not a binary peer id",
            })
    }

    /// The name as a CIDv1 (`libp2p-key` codec).
    pub fn to_cid(&self) -> Cid {
        Cid::new_v1(LIBP2P_KEY_CODEC, *self.0.as_ref())
    }

    /// `/ipns/<name>`, with the name in its canonical base36 form.
    pub fn to_path(&self) -> String {
        format!("{IPNS_PREFIX}{self}")
    }

    /// Parses `/ipns/<name>[/rest…]`, returning the name and the rest of the
    /// path (empty, or starting with `/`).
    pub fn from_path(path: &str) -> Result<(Self, &str), Error> {
        let tail = path
            .strip_prefix(IPNS_PREFIX)
            .ok_or_else(|| Error::bad_name(path, "path does not start with /ipns/"))?;
        let (name, rest) = match tail.find('/') {
            Some(i) => tail.split_at(i),
            None => (tail, ""),
        };
        Ok((Self::parse_bare(name)?, rest))
    }

    /// The public key inlined in the name, when its multihash is `identity`
    /// (Ed25519 and Secp256k1 keys); `None` when the name is a key hash.
    pub fn inline_public_key(&self) -> Option<Result<PublicKey, Error>> {
        let mh = self.0.as_ref();
        (mh.code() == IDENTITY_MULTIHASH).then(|| {
            PublicKey::try_decode_protobuf(mh.digest())
                .map_err(|source| Error::BadPublicKey { source })
        })
    }

    /// Whether the name inlines its public key (identity multihash).
    pub fn is_inline(&self) -> bool {
        self.0.as_ref().code() == IDENTITY_MULTIHASH
    }

    fn parse_bare(s: &str) -> Result<Self, Error> {
        if s.is_empty() {
            return Err(Error::bad_name(s, "empty name"));
        }
        // Base58 peer ids: `Qm…` (sha2-256) and `1…` (identity, e.g. `12D3Koo…`).
        // Neither `Q` nor `1` is a multibase prefix, so this cannot shadow a CID.
        if s.starts_with("Qm") || s.starts_with('1') {
            return PeerId::from_str(s)
                .map(Name)
                .map_err(|_| Error::bad_name(s, "not a valid base58 peer id"));
        }
        let cid =
            Cid::try_from(s).map_err(|_| Error::bad_name(s, "neither a peer id nor a CID"))?;
        if cid.codec() != LIBP2P_KEY_CODEC {
            return Err(Error::bad_name(s, "CID codec is not libp2p-key (0x72)"));
        }
        PeerId::from_multihash(*cid.hash())
            .map(Name)
            .map_err(|_| Error::bad_name(s, "CID multihash is not a peer id"))
    }
}

impl FromStr for Name {
    type Err = Error;

    /// Parses a name, with or without the `/ipns/` prefix.
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse_bare(s.strip_prefix(IPNS_PREFIX).unwrap_or(s))
    }
}

impl fmt::Display for Name {
    /// The canonical form: CIDv1, `libp2p-key`, base36 lowercase (`k51…`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&multibase::encode(
            Base::Base36Lower,
            self.to_cid().to_bytes(),
        ))
    }
}

impl From<PeerId> for Name {
    fn from(peer: PeerId) -> Self {
        Name(peer)
    }
}

impl From<Name> for PeerId {
    fn from(name: Name) -> Self {
        name.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use libp2p_identity::Keypair;
    use proptest::prelude::*;

    /// Base58 peer id and base36 CID of the same key (boxo `ipns/name_test.go`).
    const PAIRS: [(&str, &str); 4] = [
        (
            "QmRp2LvtSQtCkUWCpi92ph5MdQyRtfb9jHbkNgZzGExGuG",
            "k2k4r8kpauqq30hoj9oktej5btbgz1jeos16d3te36xd78trvak0jcor",
        ),
        (
            "12D3KooWSzRuSFHgLsKr6jJboAPdP7xMga2YBgBspYuErxswcgvt",
            "k51qzi5uqu5dmjjgoe7s21dncepi970722cn30qlhm9qridas1c9ktkjb6ejux",
        ),
        (
            "QmSBUTocZ9LxE53Br9PDDcPWnR1FJQRv94U96Wkt8eypAw",
            "k2k4r8ku8cnc1sl2h5xn7i07dma9abfnkqkxi4a6nd1xq0knoxe7b0y4",
        ),
        (
            "16Uiu2HAmUymv6JpFwNZppdKUMxGJuHsTeicXgHGKbBasu4Ruj3K1",
            "kzwfwjn5ji4puw3jc1qw4b073j74xvq21iziuqw4rem21pr7f0l4dj8i9yb978s",
        ),
    ];

    fn parse(s: &str) -> Name {
        s.parse().expect("valid name")
    }

    #[test]
    fn reference_names_convert_both_ways() {
        for (b58, b36) in PAIRS {
            assert_eq!(parse(b58).to_string(), b36);
            assert_eq!(parse(&format!("/ipns/{b58}")).to_string(), b36);
            assert_eq!(parse(b36).to_string(), b36);
            assert_eq!(parse(b36).peer_id().to_base58(), b58);
            assert_eq!(parse(b58).to_path(), format!("/ipns/{b36}"));
        }
    }

    #[test]
    fn ed25519_seed_gives_reference_name() {
        // Seed and name from the `micro-key-producer` IPNS test.
        let mut seed = [
            0x06, 0x81, 0xd6, 0x42, 0x0a, 0xbb, 0x1b, 0xa4, 0x7a, 0xcd, 0x5c, 0x03, 0xc8, 0xe5,
            0xee, 0x84, 0x18, 0x5a, 0x26, 0x73, 0x57, 0x6b, 0x26, 0x2e, 0x23, 0x4e, 0x50, 0xc4,
            0x6d, 0x86, 0xf5, 0x97,
        ];
        let key = Keypair::ed25519_from_bytes(&mut seed).expect("32-byte seed");
        let name = Name::new(key.public().to_peer_id());
        assert_eq!(
            name.to_string(),
            "k51qzi5uqu5dgnfwbc46une4upw1vc9hxznymyeykmg6rev1513yrnbyrwmmql"
        );
        // The same CID in base32 and base16 parses to the same name.
        assert_eq!(
            parse("bafzaajaiaejcaewifgpmfri57654wt47zsw45ykcjszdp2ntbu6nolkhygaqg2e5"),
            name
        );
        assert_eq!(
            parse(
                "f017200240801122012c8299ec2c51dffbbcb4f9fccadcee1424cb237e9b30d3cd72d47c18103689d"
            ),
            name
        );
        assert_eq!(
            name.inline_public_key().and_then(Result::ok),
            Some(key.public())
        );
        assert!(name.is_inline());
    }

    #[test]
    fn rejects_non_names() {
        for bad in [
            "",
            "/ipns/",
            "hello",
            "Qmnotbase58!",
            // A CIDv1 raw (0x55) is content, not a key.
            "bafkqaddwgevxmmraojswg33smq",
            // dag-pb CID of a peer id: right multihash, wrong codec.
            "k2jmtxu61bnhrtj301lw7zizknztocdbeqhxgv76l2q9t36fn9jbzipo",
        ] {
            assert!(
                matches!(bad.parse::<Name>(), Err(Error::BadName { .. })),
                "accepted {bad:?}"
            );
        }
    }

    #[test]
    fn parses_paths() {
        let (b58, b36) = PAIRS[1];
        let path = format!("/ipns/{b36}/a/b");
        assert_eq!(Name::from_path(&path).ok(), Some((parse(b58), "/a/b")));
        let path = format!("/ipns/{b58}");
        assert_eq!(Name::from_path(&path).ok(), Some((parse(b58), "")));
        assert!(Name::from_path(b36).is_err());
        assert!(Name::from_path("/ipfs/bafkqaddwgevxmmraojswg33smq").is_err());
    }

    #[test]
    fn routing_key_round_trips_and_rejects_junk() {
        let name = parse(PAIRS[0].0);
        let key = name.routing_key();
        assert!(key.starts_with(b"/ipns/"));
        assert_eq!(&key[6..], name.peer_id().to_bytes().as_slice());
        assert_eq!(Name::from_routing_key(&key).ok(), Some(name));
        assert!(matches!(
            Name::from_routing_key(b"/pk/x"),
            Err(Error::BadRoutingKey { .. })
        ));
        assert!(matches!(
            Name::from_routing_key(b"/ipns/\x12\x20short"),
            Err(Error::BadRoutingKey { .. })
        ));
    }

    proptest! {
        #[test]
        fn display_parse_round_trip(mut seed in any::<[u8; 32]>()) {
            let key = Keypair::ed25519_from_bytes(&mut seed).expect("32-byte seed");
            let name = Name::new(key.public().to_peer_id());
            prop_assert_eq!(name.to_string().parse::<Name>().ok(), Some(name));
            prop_assert_eq!(name.peer_id().to_base58().parse::<Name>().ok(), Some(name));
            prop_assert_eq!(Name::from_routing_key(&name.routing_key()).ok(), Some(name));
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,80}") {
            let _ = s.parse::<Name>();
            let _ = Name::from_path(&s);
            let _ = Name::from_routing_key(s.as_bytes());
        }
    }
}
