//! Whom to serve: the whitepaper's debt-ratio strategy as a pure scheduler (randomness
//! injected as a seedable [`fastrand::Rng`], time passed in).
//!
//! Data flow: each scheduling round the engine passes the peers that have pending
//! want-blocks with their debt ratios; the scheduler answers which are admitted (served
//! first) and which are deferred (served only when no admitted peer has work — `sigmoid`
//! is work-conserving). `strict` drops refused peers for a cooldown instead; `altruistic`
//! admits everyone (Kubo's behaviour).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use libp2p::PeerId;

use crate::ledger::send_probability;

/// How long `strict` ignores a refused peer by default.
pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(10);
/// Most cooldowns remembered (expired ones are pruned first; past this, the oldest go).
const MAX_COOLDOWNS: usize = 4096;

/// A send strategy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Strategy {
    /// Admit each peer with probability `P(send | r)`; serve the others when idle.
    Sigmoid,
    /// Admit with `P(send | r)`; a refused peer is ignored for `cooldown`, idle or not.
    Strict {
        /// How long a refused peer waits.
        cooldown: Duration,
    },
    /// Serve everyone.
    Altruistic,
}

impl Strategy {
    /// `sigmoid`, `strict` (with [`DEFAULT_COOLDOWN`]) or `altruistic`.
    pub fn parse(s: &str) -> Option<Strategy> {
        match s {
            "sigmoid" => Some(Strategy::Sigmoid),
            "strict" => Some(Strategy::Strict {
                cooldown: DEFAULT_COOLDOWN,
            }),
            "altruistic" => Some(Strategy::Altruistic),
            _ => None,
        }
    }

    /// Its config name.
    pub fn name(&self) -> &'static str {
        match self {
            Strategy::Sigmoid => "sigmoid",
            Strategy::Strict { .. } => "strict",
            Strategy::Altruistic => "altruistic",
        }
    }
}

/// One round's decision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Round {
    /// Served first, in this order.
    pub admitted: Vec<PeerId>,
    /// Served only when no admitted peer has work (`sigmoid` only).
    pub deferred: Vec<PeerId>,
}

/// The scheduler's state: the strategy, its randomness and `strict`'s cooldowns.
#[derive(Debug)]
pub struct Scheduler {
    strategy: Strategy,
    rng: fastrand::Rng,
    cooldowns: HashMap<PeerId, Instant>,
}

impl Scheduler {
    /// A scheduler drawing from `rng` (seed it for reproducible runs).
    pub fn new(strategy: Strategy, rng: fastrand::Rng) -> Scheduler {
        Scheduler {
            strategy,
            rng,
            cooldowns: HashMap::new(),
        }
    }

    /// The strategy.
    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// One round over the peers with pending wants and their debt ratios.
    pub fn round(&mut self, candidates: &[(PeerId, f64)], now: Instant) -> Round {
        let mut round = Round::default();
        match self.strategy {
            Strategy::Altruistic => {
                round.admitted = candidates.iter().map(|(p, _)| *p).collect();
            }
            Strategy::Sigmoid => {
                for (p, r) in candidates {
                    if self.rng.f64() < send_probability(*r) {
                        round.admitted.push(*p);
                    } else {
                        round.deferred.push(*p);
                    }
                }
            }
            Strategy::Strict { cooldown } => {
                self.cooldowns.retain(|_, until| *until > now);
                for (p, r) in candidates {
                    if self.cooldowns.contains_key(p) {
                        continue;
                    }
                    if self.rng.f64() < send_probability(*r) {
                        round.admitted.push(*p);
                    } else {
                        if self.cooldowns.len() >= MAX_COOLDOWNS
                            && let Some(oldest) = self
                                .cooldowns
                                .iter()
                                .min_by_key(|(_, t)| **t)
                                .map(|(p, _)| *p)
                        {
                            self.cooldowns.remove(&oldest);
                        }
                        self.cooldowns.insert(*p, now + cooldown);
                    }
                }
            }
        }
        round
    }

    /// Whether `peer` is cooling down (`strict`).
    pub fn cooling(&self, peer: &PeerId, now: Instant) -> bool {
        self.cooldowns.get(peer).is_some_and(|t| *t > now)
    }

    /// Forgets a peer (it disconnected).
    pub fn forget(&mut self, peer: &PeerId) {
        self.cooldowns.remove(peer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::Ledger;

    const BLOCK: u64 = 256 << 10;

    #[test]
    fn parse_names() {
        for s in ["sigmoid", "strict", "altruistic"] {
            assert_eq!(Strategy::parse(s).map(|x| x.name()), Some(s));
        }
        assert_eq!(Strategy::parse("greedy"), None);
    }

    #[test]
    fn rounds_per_strategy() {
        let t = Instant::now();
        let (good, bad) = (PeerId::random(), PeerId::random());
        let c = [(good, 0.0), (bad, 1e9)];
        let mut s = Scheduler::new(Strategy::Altruistic, fastrand::Rng::with_seed(1));
        assert_eq!(s.round(&c, t).admitted, vec![good, bad]);
        let mut s = Scheduler::new(Strategy::Sigmoid, fastrand::Rng::with_seed(1));
        let admitted_good = (0..1000)
            .filter(|_| s.round(&c, t).admitted.contains(&good))
            .count();
        let r = s.round(&c, t);
        assert!(admitted_good > 980, "{admitted_good}");
        assert_eq!(r.deferred, vec![bad]);
        let mut s = Scheduler::new(
            Strategy::Strict {
                cooldown: Duration::from_secs(10),
            },
            fastrand::Rng::with_seed(1),
        );
        let r = s.round(&c, t);
        assert!(r.deferred.is_empty() && !r.admitted.contains(&bad));
        assert!(s.cooling(&bad, t + Duration::from_secs(9)));
        // Excluded during the cooldown, reconsidered (and refused again) after it.
        assert!(
            !s.round(&c, t + Duration::from_secs(5))
                .admitted
                .contains(&bad)
        );
        assert!(!s.cooling(&bad, t + Duration::from_secs(10)));
        s.round(&c, t + Duration::from_secs(11));
        assert!(s.cooling(&bad, t + Duration::from_secs(12)));
        s.forget(&bad);
        assert!(!s.cooling(&bad, t + Duration::from_secs(12)));
    }

    /// A seeder with `capacity` blocks of upload per tick; each peer wants `want` blocks.
    /// The engine's rule: admitted peers round-robin, one block each while capacity
    /// remains; deferred peers only when no admitted peer was served. Answers the blocks
    /// each peer got after `ticks`.
    fn simulate(
        strategy: Strategy,
        peers: &[(Ledger, u64)],
        ticks: u32,
        capacity: u32,
    ) -> Vec<u64> {
        let ids: Vec<PeerId> = peers.iter().map(|_| PeerId::random()).collect();
        let mut ledgers: Vec<Ledger> = peers.iter().map(|(l, _)| *l).collect();
        let mut left: Vec<u64> = peers.iter().map(|(_, w)| *w).collect();
        let mut got = vec![0u64; peers.len()];
        let mut s = Scheduler::new(strategy, fastrand::Rng::with_seed(42));
        let start = Instant::now();
        for tick in 0..ticks {
            let now = start + Duration::from_millis(10) * tick;
            let mut cap = capacity;
            let candidates: Vec<(PeerId, f64)> = ids
                .iter()
                .enumerate()
                .filter(|(i, _)| left[*i] > 0)
                .map(|(i, p)| (*p, ledgers[i].debt_ratio()))
                .collect();
            let round = s.round(&candidates, now);
            let mut serve = |who: &[PeerId], cap: &mut u32| -> bool {
                let mut any = false;
                while *cap > 0 {
                    let mut progressed = false;
                    for p in who {
                        let i = ids.iter().position(|x| x == p).unwrap();
                        if *cap > 0 && left[i] > 0 {
                            left[i] -= 1;
                            got[i] += 1;
                            ledgers[i].record_sent(BLOCK, 1);
                            *cap -= 1;
                            progressed = true;
                            any = true;
                        }
                    }
                    if !progressed {
                        break;
                    }
                }
                any
            };
            if !serve(&round.admitted, &mut cap) {
                serve(&round.deferred, &mut cap);
            }
        }
        got
    }

    fn contributor() -> Ledger {
        Ledger {
            bytes_recv: 100 << 20,
            ..Ledger::default()
        }
    }

    #[test]
    fn contributor_gets_most_under_contention() {
        let got = simulate(
            Strategy::Sigmoid,
            &[(contributor(), 400), (Ledger::default(), 400)],
            50,
            4,
        );
        let ratio = got[0] as f64 / got[1].max(1) as f64;
        eprintln!("sigmoid, contributor vs free-rider over 50 ticks: {got:?} (ratio {ratio:.1})");
        assert!(ratio >= 5.0, "{got:?}");
        let got = simulate(
            Strategy::Altruistic,
            &[(contributor(), 400), (Ledger::default(), 400)],
            50,
            4,
        );
        eprintln!("altruistic: {got:?}");
        assert_eq!(got[0], got[1]);
    }

    #[test]
    fn lone_free_rider_completes_under_sigmoid_and_stalls_under_strict() {
        let got = simulate(Strategy::Sigmoid, &[(Ledger::default(), 200)], 60, 4);
        assert_eq!(got, vec![200]);
        let got = simulate(
            Strategy::Strict {
                cooldown: DEFAULT_COOLDOWN,
            },
            &[(Ledger::default(), 200)],
            1000,
            4,
        );
        eprintln!("strict, lone free-rider over 10 simulated seconds: {got:?} of 200");
        assert!(got[0] < 10, "{got:?}");
    }
}
