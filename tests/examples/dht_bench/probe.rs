//! The routing-table probe: a bare libp2p client (TCP + noise + yamux and raw streams
//! from `libp2p-stream`; no Kademlia behaviour, no identify, so no node can route to it or
//! add it to a table) that reads every node's WAN routing table exactly. It asks each node
//! `FIND_NODE(p)` for every other node p, on one reused stream per node: p is in the
//! node's table iff the answer lists it, since an entry is the closest one to itself.

use super::{Node, Rng, is_loopback, within};
use anyhow::{Context, Result, anyhow, ensure};
use futures::AsyncWriteExt;
use ipfsd_tests::kad_wire::{KAD_WAN, RawClient, find_node, frame, read_frame};
use libp2p::PeerId;
use libp2p::identity::Keypair;
use std::collections::HashSet;
use std::time::Duration;
use tokio::task::JoinSet;

/// Largest answer read (the node's own DHT message limit).
const MAX_MESSAGE: usize = 64 * 1024;

/// One node's WAN routing table: the peers `FIND_NODE(p)` returns p for.
async fn probe_one(
    mut control: libp2p_stream::Control,
    node: PeerId,
    all: Vec<PeerId>,
) -> Result<HashSet<PeerId>> {
    let mut s = within(
        "opening a Kademlia stream",
        control.open_stream(node, KAD_WAN),
    )
    .await??;
    let mut table = HashSet::new();
    for target in all.iter().filter(|p| **p != node) {
        let answer = within("FIND_NODE", async {
            s.write_all(&frame(&find_node(target))).await?;
            s.flush().await?;
            Ok::<_, anyhow::Error>(read_frame(&mut s, MAX_MESSAGE).await?)
        })
        .await??;
        let want = target.to_bytes();
        if answer.closer_peers.iter().any(|p| p.id == want) {
            table.insert(*target);
        }
    }
    Ok(table)
}

/// Every node's WAN routing table (peer sets, in `nodes` order).
pub(crate) async fn probe_tables(nodes: &[Node], seed: u64) -> Result<Vec<HashSet<PeerId>>> {
    let key = Keypair::ed25519_from_bytes(Rng(seed ^ 0x0070_726f_6265).bytes32())?;
    let mut addrs = Vec::new();
    for n in nodes {
        ensure!(is_loopback(&n.addr), "non-loopback node address");
        addrs.push(
            n.addr
                .clone()
                .with_p2p(n.peer)
                .map_err(|a| anyhow!("{a}: bad /p2p/"))?,
        );
    }
    let (client, _) = RawClient::connect(key, &addrs, Duration::from_secs(30))
        .await
        .context("probe connecting")?;
    let control = client.control.clone();
    let all: Vec<PeerId> = nodes.iter().map(|n| n.peer).collect();
    let mut set = JoinSet::new();
    for (i, n) in nodes.iter().enumerate() {
        let (control, peer, all) = (control.clone(), n.peer, all.clone());
        set.spawn(async move { (i, probe_one(control, peer, all).await) });
    }
    let mut tables = vec![HashSet::new(); nodes.len()];
    let mut error = None;
    while let Some(r) = set.join_next().await {
        match r {
            Ok((i, Ok(t))) => tables[i] = t,
            Ok((i, Err(e))) => error = Some(e.context(format!("probing node {i}"))),
            Err(e) => error = Some(anyhow!(e)),
        }
    }
    drop(client);
    match error {
        Some(e) => Err(e),
        None => Ok(tables),
    }
}
