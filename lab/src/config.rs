//! The emulator's config file (JSON, written by `scripts/testnet.sh`): the nodes (TUN
//! name, lab address) with their link's figures, and the partition in force.
//!
//! ```json
//! { "seed": 1,
//!   "nodes": [ { "tun": "ilab0", "addr": "198.18.0.1",
//!                "rtt_us": 40000, "jitter_us": 0, "loss": 0.005, "rate_bps": 0 } ],
//!   "partition": [0, 0, 1, 1] }
//! ```
//! A node's figures are what two nodes with such links see between them (RTT, jitter,
//! one-way loss, as a user gives them); [`crate::model::Link::between`] turns them into the
//! link's own. `rate_bps` 0 means no limit; `partition` (optional) gives each
//! node's side. Addresses must be in 198.18.0.0/15: the lab never carries anything else.

use crate::model::Link;
use anyhow::{Context, bail};
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

/// One node.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Node {
    /// Its TUN device's name.
    pub tun: String,
    /// Its lab address.
    pub addr: Ipv4Addr,
    /// Round-trip time between two nodes with this link, µs.
    #[serde(default)]
    pub rtt_us: u64,
    /// Jitter between two nodes with this link, µs.
    #[serde(default)]
    pub jitter_us: u64,
    /// One-way loss between two nodes with this link (0..=1).
    #[serde(default)]
    pub loss: f64,
    /// Rate of its link, bit/s (0: none).
    #[serde(default)]
    pub rate_bps: u64,
}

/// The whole file.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Config {
    /// Seeds loss and jitter.
    #[serde(default)]
    pub seed: u64,
    /// The nodes, in order (node i is index i).
    pub nodes: Vec<Node>,
    /// Each node's side, when partitioned.
    #[serde(default)]
    pub partition: Option<Vec<u32>>,
}

/// 198.18.0.0/15, the benchmarking range (RFC 2544).
fn in_lab_range(a: Ipv4Addr) -> bool {
    let o = a.octets();
    o[0] == 198 && (o[1] == 18 || o[1] == 19)
}

impl Config {
    /// Reads and checks the file.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let bytes = std::fs::read(path).with_context(|| path.display().to_string())?;
        let c: Config =
            serde_json::from_slice(&bytes).with_context(|| path.display().to_string())?;
        if c.nodes.is_empty() || c.nodes.len() > 1024 {
            bail!("between 1 and 1024 nodes");
        }
        for n in &c.nodes {
            if !in_lab_range(n.addr) {
                bail!("{}: not in 198.18.0.0/15", n.addr);
            }
            if n.tun.is_empty() || n.tun.len() > 15 {
                bail!("{:?}: a device name is 1 to 15 bytes", n.tun);
            }
            if !(0.0..=1.0).contains(&n.loss) {
                bail!("loss {} is not between 0 and 1", n.loss);
            }
        }
        if let Some(p) = &c.partition
            && p.len() != c.nodes.len()
        {
            bail!(
                "the partition names {} nodes, not {}",
                p.len(),
                c.nodes.len()
            );
        }
        Ok(c)
    }

    /// The link of every node.
    pub fn links(&self) -> Vec<Link> {
        self.nodes
            .iter()
            .map(|n| {
                Link::between(
                    Duration::from_micros(n.rtt_us),
                    Duration::from_micros(n.jitter_us),
                    n.loss,
                    (n.rate_bps > 0).then_some(n.rate_bps),
                )
            })
            .collect()
    }
}
