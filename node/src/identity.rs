//! The node's identity: an ed25519 key pair, stored in the repository, and its peer ID.
//!
//! The private key lives in `$IPFSD_PATH/identity` (libp2p protobuf encoding, owner-only
//! permissions), never in the config file, so `ipfsd config show` cannot leak it; the
//! config records the peer ID (`Identity.PeerID`) for reference.
//!
//! S/Kademlia static puzzle: [`Identity::generate_with_difficulty`] draws ed25519 keys until
//! `sha256(peer ID bytes)` starts with at least D zero bits ([`difficulty`]), searching on
//! every core. A node can then refuse peers whose IDs fall short (networking stage).

use libp2p_identity::{Keypair, PeerId};
use std::path::{Path, PathBuf};

/// The key file in the repository.
pub const KEY_FILE: &str = "identity";

/// The identity key could not be created or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// Reading or writing the key file failed.
    #[error("{path}: {source}")]
    Io {
        /// The key file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The key file does not hold a valid key.
    #[error("{path}: not a valid private key ({reason})")]
    Invalid {
        /// The key file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// Default proof-of-work difficulty of `ipfsd init`: about 2^13 key draws, ~0.1 s on 2
/// cores here (release build); the search time is geometric, so even the slow tail stays
/// under a second.
pub const DEFAULT_DIFFICULTY: u32 = 13;
/// Highest difficulty accepted for a new identity (2^24 draws is minutes of work).
pub const MAX_DIFFICULTY: u32 = 24;

/// The S/Kademlia difficulty of a peer ID: the leading zero bits of sha256(ID bytes).
pub fn difficulty(peer: &PeerId) -> u32 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(peer.to_bytes());
    let mut bits = 0;
    for byte in digest {
        if byte == 0 {
            bits += 8;
        } else {
            bits += byte.leading_zeros();
            break;
        }
    }
    bits
}

/// A node identity.
#[derive(Debug, Clone)]
pub struct Identity {
    keypair: Keypair,
}

impl Identity {
    /// A fresh ed25519 identity.
    pub fn generate() -> Self {
        Identity {
            keypair: Keypair::generate_ed25519(),
        }
    }

    /// A fresh identity whose peer ID has at least `min` bits of difficulty, drawn on every
    /// core. `min` is capped at [`MAX_DIFFICULTY`].
    pub fn generate_with_difficulty(min: u32) -> Self {
        use rayon::prelude::*;
        let min = min.min(MAX_DIFFICULTY);
        let keypair = rayon::iter::repeat(())
            .map(|()| Keypair::generate_ed25519())
            .find_any(|k| difficulty(&k.public().to_peer_id()) >= min)
            .unwrap_or_else(Keypair::generate_ed25519);
        Identity { keypair }
    }

    /// The difficulty of this identity's peer ID.
    pub fn difficulty(&self) -> u32 {
        difficulty(&self.peer_id())
    }

    /// The peer ID.
    pub fn peer_id(&self) -> PeerId {
        self.keypair.public().to_peer_id()
    }

    /// The public key, protobuf-encoded and base64 (as Kubo's `id` prints it).
    pub fn public_key_base64(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(self.keypair.public().encode_protobuf())
    }

    /// The key pair.
    pub fn keypair(&self) -> &Keypair {
        &self.keypair
    }

    /// Writes the key into the repository at `repo`, readable by the owner only.
    pub fn save(&self, repo: &Path) -> Result<(), IdentityError> {
        let path = repo.join(KEY_FILE);
        let bytes = self
            .keypair
            .to_protobuf_encoding()
            .map_err(|e| IdentityError::Invalid {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        let io = |source| IdentityError::Io {
            path: path.clone(),
            source,
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(&path).map_err(io)?;
        std::io::Write::write_all(&mut f, &bytes).map_err(io)?;
        f.sync_all().map_err(io)
    }

    /// Reads the key of the repository at `repo`.
    pub fn load(repo: &Path) -> Result<Identity, IdentityError> {
        let path = repo.join(KEY_FILE);
        let bytes = std::fs::read(&path).map_err(|source| IdentityError::Io {
            path: path.clone(),
            source,
        })?;
        let keypair =
            Keypair::from_protobuf_encoding(&bytes).map_err(|e| IdentityError::Invalid {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        Ok(Identity { keypair })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn difficulty_counts_leading_zero_bits() {
        for min in [0, 1, 4, 8, 10] {
            let id = Identity::generate_with_difficulty(min);
            assert!(id.difficulty() >= min, "{} < {min}", id.difficulty());
            use sha2::Digest;
            let digest = sha2::Sha256::digest(id.peer_id().to_bytes());
            let bits: String = digest.iter().map(|b| format!("{b:08b}")).collect();
            assert_eq!(bits.find('1').unwrap_or(256) as u32, id.difficulty());
        }
    }

    #[test]
    fn save_load_roundtrip_owner_only() {
        let dir = tempfile::tempdir().expect("tmp");
        let id = Identity::generate();
        id.save(dir.path()).expect("save");
        let back = Identity::load(dir.path()).expect("load");
        assert_eq!(back.peer_id(), id.peer_id());
        assert!(
            id.peer_id().to_string().starts_with("12D3KooW"),
            "ed25519 peer IDs are inlined keys"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "not readable by group or others");
        }
        assert!(id.save(dir.path()).is_err(), "never overwrites a key");
        std::fs::write(dir.path().join(KEY_FILE), b"junk").expect("write");
        assert!(matches!(
            Identity::load(dir.path()),
            Err(IdentityError::Invalid { .. })
        ));
    }
}
