//! The derived hop count: an offline replay of each lookup over the probed routing tables.
//! libp2p-kad reports the messages a lookup sent but not its hops, and its lookups are
//! asynchronous (a new request whenever one of alpha in flight returns; with disjoint paths,
//! 3 paths of alpha each), so "hops" is only defined for a round model: round r sends the
//! alpha closest not-yet-queried candidates one request each, in parallel.

use super::ALPHA;
use libp2p::PeerId;
use libp2p::kad::{KBucketDistance, KBucketKey, RecordKey};
use std::collections::{BTreeMap, HashMap, HashSet};

/// libp2p-kad's fixed answer size: peers per `FIND_NODE`/`GET_PROVIDERS` answer, and the
/// initial candidates taken from the asking node's own table.
const K_VALUE: usize = 20;
/// Rounds a replay runs at most.
const MAX_SIM_ROUNDS: u32 = 64;

/// What the offline replay of one lookup gives.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Sim {
    /// Round in which a record holder was first queried (0: the origin holds it).
    pub(crate) first: Option<u32>,
    /// Messages sent up to and including that round.
    pub(crate) messages_to_first: u32,
    /// Rounds until the lookup terminates (the k closest have answered, or no one is left).
    pub(crate) rounds: u32,
    /// Messages sent until then.
    pub(crate) messages: u32,
}

/// The `n` peers of `table` closest to `target`, without `exclude`.
fn closest(
    table: &[PeerId],
    target: &KBucketKey<RecordKey>,
    n: usize,
    exclude: PeerId,
) -> Vec<(KBucketDistance, PeerId)> {
    let mut v: Vec<_> = table
        .iter()
        .filter(|p| **p != exclude)
        .map(|p| (KBucketKey::from(*p).distance(target), *p))
        .collect();
    v.sort_unstable();
    v.truncate(n);
    v
}

/// A round-synchronous iterative Kademlia lookup over routing-table snapshots, shaped
/// like libp2p-kad's `ClosestPeersIter` (one path): it starts from the origin's 20 closest
/// entries; each round queries the `ALPHA` closest not-yet-queried candidates ahead of the
/// k-th answered one; each answer adds that peer's 20 closest entries (never the origin).
pub(crate) fn simulate(
    tables: &HashMap<PeerId, Vec<PeerId>>,
    holders: &HashSet<PeerId>,
    origin: PeerId,
    key: &RecordKey,
    k: usize,
    stop_at_first: bool,
) -> Sim {
    let mut sim = Sim::default();
    if holders.contains(&origin) {
        sim.first = Some(0);
        if stop_at_first {
            return sim;
        }
    }
    let target = KBucketKey::new(key.clone());
    let empty = Vec::new();
    let table = |p: &PeerId| tables.get(p).unwrap_or(&empty);
    let mut cands: BTreeMap<KBucketDistance, (PeerId, bool)> =
        closest(table(&origin), &target, K_VALUE, origin)
            .into_iter()
            .map(|(d, p)| (d, (p, false)))
            .collect();
    for round in 1..=MAX_SIM_ROUNDS {
        let mut next = Vec::new();
        let mut answered = 0;
        for (d, (p, asked)) in &cands {
            if *asked {
                answered += 1;
                if answered >= k {
                    break;
                }
            } else if next.len() < ALPHA {
                next.push((*d, *p));
            } else {
                break;
            }
        }
        if next.is_empty() {
            break;
        }
        sim.rounds = round;
        let mut learned = Vec::new();
        for (d, p) in &next {
            if let Some(c) = cands.get_mut(d) {
                c.1 = true;
            }
            sim.messages += 1;
            if holders.contains(p) && sim.first.is_none() {
                sim.first = Some(round);
            }
            learned.extend(closest(table(p), &target, K_VALUE, origin));
        }
        if sim.first == Some(round) {
            // The round's other requests were sent too.
            sim.messages_to_first = sim.messages;
            if stop_at_first {
                return sim;
            }
        }
        for (d, p) in learned {
            cands.entry(d).or_insert((p, false));
        }
    }
    sim
}
