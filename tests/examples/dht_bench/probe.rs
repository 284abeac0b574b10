//! The routing-table probe: a bare libp2p client (TCP + noise + yamux and raw streams
//! from `libp2p-stream`; no Kademlia behaviour, no identify, so no node can route to it or
//! add it to a table) that reads every node's WAN routing table exactly. It asks each node
//! `FIND_NODE(p)` for every other node p, on one reused stream per node: p is in the
//! node's table iff the answer lists it, since an entry is the closest one to itself.

use super::{Node, Rng, is_loopback, within};
use anyhow::{Result, anyhow, bail, ensure};
use futures::{AsyncReadExt, AsyncWriteExt, StreamExt};
use libp2p::identity::Keypair;
use libp2p::swarm::SwarmEvent;
use libp2p::{PeerId, Stream, StreamProtocol, noise, tcp, yamux};
use prost::Message as _;
use std::collections::HashSet;
use std::time::Duration;
use tokio::task::JoinSet;

/// Largest answer read (the node's own DHT message limit).
const MAX_MESSAGE: usize = 64 * 1024;
const KAD_WAN: StreamProtocol = StreamProtocol::new(node::net::KAD_WAN);
/// `Message.MessageType.FIND_NODE` (libp2p/specs kad-dht).
const FIND_NODE: i32 = 4;

/// The Kademlia messages the probe needs (libp2p/specs `kad-dht`; other fields skipped).
mod pb {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Peer {
        #[prost(bytes = "vec", tag = "1")]
        pub id: Vec<u8>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Message {
        #[prost(int32, tag = "1")]
        pub r#type: i32,
        #[prost(bytes = "vec", tag = "2")]
        pub key: Vec<u8>,
        #[prost(message, repeated, tag = "8")]
        pub closer_peers: Vec<Peer>,
    }
}

fn find_node(target: &PeerId) -> Vec<u8> {
    let body = pb::Message {
        r#type: FIND_NODE,
        key: target.to_bytes(),
        ..pb::Message::default()
    }
    .encode_to_vec();
    let mut buf = unsigned_varint::encode::usize_buffer();
    let mut out = unsigned_varint::encode::usize(body.len(), &mut buf).to_vec();
    out.extend_from_slice(&body);
    out
}

async fn read_frame(s: &mut Stream) -> Result<pb::Message> {
    let mut varint = Vec::new();
    loop {
        let mut b = [0u8; 1];
        s.read_exact(&mut b).await?;
        varint.push(b[0]);
        if b[0] & 0x80 == 0 {
            break;
        }
        ensure!(varint.len() < 10, "length prefix too long");
    }
    let (len, _) = unsigned_varint::decode::usize(&varint)?;
    ensure!(len <= MAX_MESSAGE, "answer of {len} bytes");
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).await?;
    Ok(pb::Message::decode(&body[..])?)
}

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
            s.write_all(&find_node(target)).await?;
            s.flush().await?;
            read_frame(&mut s).await
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
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )?
        .with_behaviour(|_| libp2p_stream::Behaviour::new())?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build();
    let control = swarm.behaviour().new_control();
    for n in nodes {
        ensure!(is_loopback(&n.addr), "non-loopback node address");
        swarm.dial(n.addr.clone())?;
    }
    within("probe connecting", async {
        let mut connected = HashSet::new();
        while connected.len() < nodes.len() {
            match swarm.select_next_some().await {
                SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                    connected.insert(peer_id);
                }
                SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                    bail!("probe cannot connect to {peer_id:?}: {error}")
                }
                _ => {}
            }
        }
        Ok(())
    })
    .await??;
    let driver = tokio::spawn(async move {
        loop {
            swarm.select_next_some().await;
        }
    });
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
    driver.abort();
    match error {
        Some(e) => Err(e),
        None => Ok(tables),
    }
}
