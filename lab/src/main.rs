//! `linkemu`: the testnet lab's userspace link emulator (this kernel has no `netem`).
//!
//! It creates one TUN device per lab node (the testnet script moves each into its node's
//! network namespace and gives it the node's 198.18.0.0/15 address), reads the IPv4
//! packets the nodes send, and delivers each to the TUN device of its destination when
//! the link model says so ([`model`]: delay, jitter, loss, rate, partitions). Nothing is
//! forwarded anywhere else: a destination that is not a lab node is dropped, and the
//! devices have no route out of the lab.
//!
//! Data flow: one reader task per device → a bounded channel → the scheduler, which
//! routes each packet through the model, keeps it in a time-ordered heap (bounded), and
//! writes it out when due. SIGHUP re-reads the config file (links and partition; the
//! nodes stay), SIGTERM/SIGINT end it, and with it every device (they are not persistent).
//! Every second the counters go to `<config>.stats` (JSON), written atomically.
//!
//! Usage: `linkemu CONFIG.json` (as root); prints `ready` once every device exists.

mod config;
mod model;

use bytes::Bytes;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

/// Packets waiting in the scheduler at most (~300 MB of full-size packets); more are
/// dropped and counted as queue drops.
const MAX_IN_FLIGHT: usize = 200_000;
/// Packets queued between the readers and the scheduler.
const INBOUND_DEPTH: usize = 8192;
/// Largest packet read from a device.
const MAX_PACKET: usize = 65_536;
/// tokio's timer fires on millisecond ticks, up to one late: packets due within this
/// much of now go out at once and the scheduler wakes this much early, so a hop's error
/// is centred on zero instead of always late (measured: a 40 ms RTT read 43 ms before).
const EARLY: Duration = Duration::from_micros(1000);

/// A packet for node `to`, due at `at` at the switch (then its downlink is next) or at
/// `to`; ordered by time, then arrival.
struct Due {
    at: Instant,
    seq: u64,
    from: usize,
    to: usize,
    at_switch: bool,
    packet: Bytes,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Due {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// What the emulator did, written to the stats file.
#[derive(Debug, Default, serde::Serialize)]
struct Stats {
    delivered: u64,
    delivered_bytes: u64,
    lost: u64,
    queue_dropped: u64,
    /// Queue drops per node: on its uplink (packets it sent) and its downlink.
    queue_dropped_up: Vec<u64>,
    queue_dropped_down: Vec<u64>,
    /// Bytes delivered, by sender then receiver.
    delivered_between: Vec<Vec<u64>>,
    partition_dropped: u64,
    unknown_dropped: u64,
    in_flight: usize,
}

impl Stats {
    fn new(nodes: usize) -> Stats {
        Stats {
            queue_dropped_up: vec![0; nodes],
            queue_dropped_down: vec![0; nodes],
            delivered_between: vec![vec![0; nodes]; nodes],
            ..Stats::default()
        }
    }

    /// A packet dropped on node `node`'s uplink (`up`) or downlink.
    fn dropped_at(&mut self, why: model::Drop, node: usize, up: bool) {
        if why == model::Drop::Queue {
            let per = if up {
                &mut self.queue_dropped_up
            } else {
                &mut self.queue_dropped_down
            };
            if let Some(n) = per.get_mut(node) {
                *n += 1;
            }
        }
        self.dropped(why);
    }

    fn dropped(&mut self, why: model::Drop) {
        match why {
            model::Drop::Lost => self.lost += 1,
            model::Drop::Queue => self.queue_dropped += 1,
            model::Drop::Partition => self.partition_dropped += 1,
            model::Drop::Unknown => self.unknown_dropped += 1,
        }
    }
}

/// The IPv4 destination of a packet (`None` for anything else).
fn ipv4_dst(packet: &[u8]) -> Option<Ipv4Addr> {
    if packet.len() < 20 || packet[0] >> 4 != 4 {
        return None;
    }
    Some(Ipv4Addr::new(
        packet[16], packet[17], packet[18], packet[19],
    ))
}

fn write_stats(path: &Path, stats: &Stats) {
    let tmp = path.with_extension("stats.tmp");
    if let Ok(json) = serde_json::to_vec(stats)
        && std::fs::write(&tmp, json).is_ok()
    {
        let _ = std::fs::rename(&tmp, path);
    }
}

fn open_device(name: &str) -> anyhow::Result<tun::AsyncDevice> {
    let mut c = tun::Configuration::default();
    c.tun_name(name).layer(tun::Layer::L3).mtu(1500);
    Ok(tun::create_as_async(&c)?)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let path: PathBuf = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .ok_or_else(|| anyhow::anyhow!("usage: linkemu CONFIG.json"))?;
    let cfg = config::Config::load(&path)?;
    let stats_path = path.with_extension("stats");
    let mut devices = Vec::with_capacity(cfg.nodes.len());
    for n in &cfg.nodes {
        devices.push(Arc::new(open_device(&n.tun)?));
    }
    let mut model = model::Model::new(cfg.links(), Instant::now(), cfg.seed);
    model.set_partition(cfg.partition.clone());
    let addrs: Vec<Ipv4Addr> = cfg.nodes.iter().map(|n| n.addr).collect();

    let (tx, mut rx) = mpsc::channel::<(usize, Bytes)>(INBOUND_DEPTH);
    for (i, dev) in devices.iter().enumerate() {
        let (dev, tx) = (dev.clone(), tx.clone());
        tokio::spawn(async move {
            let mut buf = vec![0u8; MAX_PACKET];
            while let Ok(n) = dev.recv(&mut buf).await {
                if tx
                    .send((i, Bytes::copy_from_slice(&buf[..n])))
                    .await
                    .is_err()
                {
                    break;
                }
            }
        });
    }
    drop(tx);
    let mut hup = signal(SignalKind::hangup())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut heap: BinaryHeap<Reverse<Due>> = BinaryHeap::new();
    let mut stats = Stats::new(addrs.len());
    let mut seq = 0u64;
    println!("ready");
    loop {
        let next = heap
            .peek()
            .map_or_else(|| Instant::now() + Duration::from_secs(3600), |d| d.0.at);
        tokio::select! {
            got = rx.recv() => {
                let Some((from, packet)) = got else { break };
                let now = Instant::now();
                let to = ipv4_dst(&packet).and_then(|d| addrs.iter().position(|a| *a == d));
                let routed = match to {
                    Some(to) => model.enter(from, to, packet.len(), now).map(|at| (at, to)),
                    None => Err(model::Drop::Unknown),
                };
                match routed {
                    Ok(_) if heap.len() >= MAX_IN_FLIGHT => stats.queue_dropped += 1,
                    Ok((at, to)) => {
                        seq += 1;
                        heap.push(Reverse(Due { at, seq, from, to, at_switch: true, packet }));
                    }
                    Err(e) => stats.dropped_at(e, from, true),
                }
            }
            () = tokio::time::sleep_until(next.checked_sub(EARLY).unwrap_or(next).into()) => {
                let now = Instant::now() + EARLY;
                while heap.peek().is_some_and(|d| d.0.at <= now) {
                    let Some(Reverse(d)) = heap.pop() else { break };
                    if d.at_switch {
                        // In the order packets reach the switch: the downlink is next.
                        match model.leave(d.to, d.packet.len(), d.at) {
                            Ok(at) => {
                                seq += 1;
                                heap.push(Reverse(Due { at, seq, at_switch: false, ..d }));
                            }
                            Err(e) => stats.dropped_at(e, d.to, false),
                        }
                        continue;
                    }
                    stats.delivered += 1;
                    stats.delivered_bytes += d.packet.len() as u64;
                    if let Some(n) = stats.delivered_between.get_mut(d.from).and_then(|r| r.get_mut(d.to)) {
                        *n += d.packet.len() as u64;
                    }
                    // A device that cannot take it (its node is gone) loses the packet.
                    let _ = devices[d.to].send(&d.packet).await;
                }
            }
            _ = hup.recv() => match config::Config::load(&path) {
                Ok(new) if new.nodes.len() == model.len() => {
                    for (i, link) in new.links().into_iter().enumerate() {
                        model.set_link(i, link);
                    }
                    model.set_partition(new.partition);
                    eprintln!("linkemu: reloaded {}", path.display());
                }
                Ok(_) => eprintln!("linkemu: reload refused: the nodes cannot change"),
                Err(e) => eprintln!("linkemu: reload failed: {e:#}"),
            },
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = tick.tick() => {
                stats.in_flight = heap.len();
                write_stats(&stats_path, &stats);
            }
        }
    }
    stats.in_flight = heap.len();
    write_stats(&stats_path, &stats);
    Ok(())
}
