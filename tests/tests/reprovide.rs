//! The sweeping reprovider against real ipfsd networks on 127.0.0.1: 24 in-process nodes
//! (k = 20, WAN DHT only), node 0 reprovides a store of raw blocks once.
//!
//! With 23 other nodes a lookup returns 20 of them, so the run must find a region by
//! exploring the other half of the keyspace (`net/provide/sweep.rs`) with libp2p-kad's
//! real lookups, and deliver its hand-written `ADD_PROVIDER` messages (`wire.rs`) to
//! libp2p-kad receivers. Checked from the receivers' record stores: every key is held by
//! exactly its 20 closest nodes (XOR distance of the sha256 digests), so a wrong region,
//! a wrong assignment or an unreadable message fails the test. Then a lookup from another
//! node finds node 0 as a provider.

use anyhow::{Context, Result, ensure};
use libp2p::identity::Keypair;
use libp2p::kad::RecordKey;
use libp2p::kad::store::RecordStore;
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use node::net::provide::{Mode, Strategy, spawn_reprovider};
use node::net::{Limits, NetConfig, Network, Records, provider_key};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::time::Duration;

const NODES: usize = 24;
const K: usize = 20;
const BLOCKS: usize = 400;
/// Longest wait for any one phase.
const PHASE: Duration = Duration::from_secs(120);

fn digest(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

fn xor(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut d = [0u8; 32];
    for i in 0..32 {
        d[i] = a[i] ^ b[i];
    }
    d
}

async fn start(
    i: usize,
    bootstrap: Vec<Multiaddr>,
) -> Result<(Network, node::net::NetTask, Multiaddr)> {
    let keypair = Keypair::ed25519_from_bytes([i as u8 + 1; 32])?;
    let peer = keypair.public().to_peer_id();
    let config = NetConfig {
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse()?],
        bootstrap,
        lan_dht: false,
        k: K,
        query_timeout: Duration::from_secs(20),
        ..NetConfig::default()
    };
    let records = Records::in_memory(peer, Limits::default())?;
    let (net, task) = Network::start(keypair, config, records, None).await?;
    let info = net.info().await?;
    let addr = info.listen.first().cloned().context("no listen address")?;
    ensure!(
        matches!(addr.iter().next(), Some(Protocol::Ip4(ip)) if ip.is_loopback()),
        "listening on {addr}"
    );
    Ok((net, task, addr.with(Protocol::P2p(peer))))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_sends_each_key_to_exactly_its_k_closest_nodes() -> Result<()> {
    let mut nodes = Vec::new();
    let mut addrs: Vec<Multiaddr> = Vec::new();
    for i in 0..NODES {
        let boot = addrs.iter().rev().take(2).cloned().collect();
        let (net, task, addr) = start(i, boot).await?;
        nodes.push((net, task));
        addrs.push(addr);
    }
    // Routing tables: bootstrap rounds until every node knows at least k others.
    tokio::time::timeout(PHASE, async {
        loop {
            let mut full = true;
            for (net, _) in &nodes {
                let _ = net.bootstrap().await;
                full &= net.info().await?.routing_table.0 >= K;
            }
            if full {
                return anyhow::Ok(());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .context("routing tables did not fill")??;

    let dir = tempfile::tempdir()?;
    let store = dag::Store::open(&dir.path().join("blocks"))?;
    let blocks: Vec<dag::Block> = (0..BLOCKS)
        .map(|i| {
            dag::Block::encode(
                dag::Version::V1,
                dag::block::RAW,
                format!("sweep {i}").into_bytes(),
            )
        })
        .collect();
    let keys: Vec<RecordKey> = blocks.iter().map(|b| provider_key(b.cid())).collect();
    store.put_many(blocks)?;

    let tasks = node::TaskTracker::new();
    let reprovider = spawn_reprovider(
        nodes[0].0.clone(),
        store,
        Strategy::All,
        Mode::Sweep,
        Duration::from_secs(3600),
        Some(Duration::from_secs(3600)),
        &tasks,
    );
    reprovider.trigger();
    let stats = tokio::time::timeout(PHASE, async {
        loop {
            let s = nodes[0].0.provide_stats().await?;
            if s.reprovide_runs >= 1 {
                return anyhow::Ok(s);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .context("the reprovide run did not finish")??;
    reprovider.stop();
    assert_eq!(stats.last_reprovide_keys, BLOCKS as u64);
    let sweep = stats.reprovide_sweep;
    eprintln!("sweep counters: {sweep:?}");
    assert_eq!(sweep.failed_keys, 0, "{sweep:?}");
    // A region needs the first lookup and at least one for the other half; far fewer
    // lookups than keys.
    assert!((2..=12).contains(&sweep.lookups), "{sweep:?}");
    assert_eq!(sweep.add_providers, (BLOCKS * K) as u64, "{sweep:?}");

    // The messages are processed by the receivers' tasks after the streams close.
    let me = nodes[0].0.local_peer_id();
    let others: Vec<(PeerId, [u8; 32], &Network)> = nodes[1..]
        .iter()
        .map(|(n, _)| (n.local_peer_id(), digest(&n.local_peer_id().to_bytes()), n))
        .collect();
    let holders = |key: &RecordKey| -> HashSet<PeerId> {
        others
            .iter()
            .filter(|(_, _, n)| n.records().providers(key).iter().any(|r| r.provider == me))
            .map(|(p, _, _)| *p)
            .collect()
    };
    tokio::time::timeout(PHASE, async {
        while keys.iter().map(|k| holders(k).len()).sum::<usize>() < BLOCKS * K {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .context("provider records did not all arrive")?;
    for key in &keys {
        let t = digest(key.as_ref());
        let mut by_distance: Vec<([u8; 32], PeerId)> =
            others.iter().map(|(p, h, _)| (xor(&t, h), *p)).collect();
        by_distance.sort();
        let closest: HashSet<PeerId> = by_distance.iter().take(K).map(|(_, p)| *p).collect();
        assert_eq!(holders(key), closest, "key {key:?}");
    }

    // And the DHT finds node 0 as the provider, from a node that is not it.
    let (found, _) =
        tokio::time::timeout(PHASE, nodes[NODES - 1].0.find_providers(keys[7].clone(), 1))
            .await
            .context("lookup timed out")??;
    assert!(found.iter().any(|p| p.peer == me), "{found:?}");

    for (net, task) in nodes {
        net.stop().await;
        let _ = tokio::time::timeout(Duration::from_secs(10), task.wait()).await;
    }
    Ok(())
}
