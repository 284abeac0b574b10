//! The link model: when (and whether) a packet from one lab node reaches another.
//!
//! Every node hangs off the emulated switch by one link, and each link has the same
//! parameters in both directions: a one-way delay with uniform jitter, a loss rate, a rate
//! limit with a bounded queue. A packet from node A to node B crosses A's link (uplink)
//! then B's link (downlink), so between two nodes the round trip is four link delays and
//! each direction sees two links' loss. The config gives the figures a user gives between
//! two nodes (`--rtt`, `--loss`); [`Link::between`] derives the per-link values.
//!
//! Time is virtual, in two steps, as a real switch works: [`Model::enter`] answers, when a
//! packet is sent, the instant it has crossed its sender's uplink and reaches the switch;
//! the caller keeps it in a time-ordered heap until then and calls [`Model::leave`], which
//! answers when it has crossed the receiver's downlink. So a downlink shared by several
//! senders serves packets in the order they reach it. (Computing both links at send time
//! served them in the order they were *sent*: a packet from an idle node waited behind
//! one still queued on another node's busy uplink, hundreds of ms on 25 Mbit/s links,
//! and a leecher's many seeders all slowed to the slowest one's pace.) A link never
//! reorders its own packets (jitter delays the ones behind too, like a real queue), and a
//! link whose queue holds more than its bound drops at the tail.

use std::time::{Duration, Instant};

/// One node's link to the switch, the same both ways.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Link {
    /// One-way propagation delay.
    pub delay: Duration,
    /// Uniform jitter: each packet gets `delay ± jitter` (never below zero).
    pub jitter: Duration,
    /// Probability that a packet is lost on this link (0..=1).
    pub loss: f64,
    /// Bits per second (`None`: no limit).
    pub rate_bps: Option<u64>,
    /// Most bytes waiting for the rate limiter before tail drop.
    pub queue_bytes: u64,
}

impl Default for Link {
    fn default() -> Self {
        Link {
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            loss: 0.0,
            rate_bps: None,
            queue_bytes: DEFAULT_QUEUE_BYTES,
        }
    }
}

/// The queue bound of a link without a better figure: ~1000 full-size packets, as
/// netem's and Linux's default queue lengths.
pub const DEFAULT_QUEUE_BYTES: u64 = 1500 * 1000;

impl Link {
    /// The per-link values that give `rtt`, `jitter` and one-way `loss` between two nodes
    /// whose links are alike (two links per direction, four per round trip).
    pub fn between(rtt: Duration, jitter: Duration, loss: f64, rate_bps: Option<u64>) -> Link {
        let loss = loss.clamp(0.0, 1.0);
        Link {
            delay: rtt / 4,
            jitter: jitter / 2,
            // 1 - (1 - p)^2 = loss.
            loss: 1.0 - (1.0 - loss).sqrt(),
            rate_bps,
            queue_bytes: Link::queue_for(rate_bps),
        }
    }

    /// The queue bound of a link at `rate_bps`: at least 100 ms at that rate (BDP-sized
    /// buffers for the RTTs the lab uses), never under the default.
    fn queue_for(rate_bps: Option<u64>) -> u64 {
        rate_bps.map_or(DEFAULT_QUEUE_BYTES, |r| {
            (r / 8 / 10).max(DEFAULT_QUEUE_BYTES)
        })
    }

    /// How long `bytes` take to leave at this link's rate.
    fn serialize(&self, bytes: usize) -> Duration {
        match self.rate_bps {
            Some(r) if r > 0 => Duration::from_nanos(
                u64::try_from((bytes as u128 * 8 * 1_000_000_000) / u128::from(r))
                    .unwrap_or(u64::MAX),
            ),
            _ => Duration::ZERO,
        }
    }
}

/// One direction of a link: when its rate limiter is free, and its last delivery.
#[derive(Debug, Clone, Copy)]
struct Pipe {
    free_at: Instant,
    last_out: Instant,
}

impl Pipe {
    fn new(now: Instant) -> Pipe {
        Pipe {
            free_at: now,
            last_out: now,
        }
    }

    /// Passes a packet of `bytes` entering at `at`: when it comes out, or why not.
    fn pass(
        &mut self,
        link: &Link,
        at: Instant,
        bytes: usize,
        rng: &mut fastrand::Rng,
    ) -> Result<Instant, Drop> {
        if link.loss > 0.0 && rng.f64() < link.loss {
            return Err(Drop::Lost);
        }
        let start = self.free_at.max(at);
        if let Some(rate) = link.rate_bps {
            let waiting = start.saturating_duration_since(at);
            let queued = waiting.as_secs_f64() * rate as f64 / 8.0;
            if queued > link.queue_bytes as f64 {
                return Err(Drop::Queue);
            }
        }
        let sent = start + link.serialize(bytes);
        self.free_at = sent;
        let mut out = sent + link.delay;
        if !link.jitter.is_zero() {
            let j = link.jitter.as_nanos() as f64 * (rng.f64() * 2.0 - 1.0);
            out = if j >= 0.0 {
                out + Duration::from_nanos(j as u64)
            } else {
                out.checked_sub(Duration::from_nanos((-j) as u64))
                    .unwrap_or(sent)
                    .max(sent)
            };
        }
        // No reordering within one direction of one link.
        out = out.max(self.last_out);
        self.last_out = out;
        Ok(out)
    }
}

/// Why a packet was not delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drop {
    /// Lost on a link (its loss rate).
    Lost,
    /// A link's queue was full.
    Queue,
    /// The two nodes are on different sides of a partition.
    Partition,
    /// The destination is not a lab node.
    Unknown,
}

/// Every node's link, and the partition in force.
#[derive(Debug)]
pub struct Model {
    links: Vec<Link>,
    up: Vec<Pipe>,
    down: Vec<Pipe>,
    /// Per node, its side of the partition (`None`: no partition).
    side: Option<Vec<u32>>,
    rng: fastrand::Rng,
}

impl Model {
    /// A model of `links` (one per node), starting at `now`; `seed` makes loss and jitter
    /// repeatable.
    pub fn new(links: Vec<Link>, now: Instant, seed: u64) -> Model {
        let n = links.len();
        Model {
            links,
            up: vec![Pipe::new(now); n],
            down: vec![Pipe::new(now); n],
            side: None,
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    /// How many nodes.
    #[allow(clippy::len_without_is_empty)] // a model always has its nodes
    pub fn len(&self) -> usize {
        self.links.len()
    }

    /// Changes node `i`'s link (packets already in flight keep their times).
    pub fn set_link(&mut self, i: usize, link: Link) {
        if let Some(l) = self.links.get_mut(i) {
            *l = link;
        }
    }

    /// Splits the nodes: `sides[i]` is node i's side; packets between sides are dropped.
    /// `None` heals.
    pub fn set_partition(&mut self, sides: Option<Vec<u32>>) {
        self.side = sides;
    }

    /// When a packet of `bytes` from node `from` to node `to`, sent at `now`, reaches the
    /// switch (it has crossed `from`'s uplink).
    pub fn enter(
        &mut self,
        from: usize,
        to: usize,
        bytes: usize,
        now: Instant,
    ) -> Result<Instant, Drop> {
        if from >= self.links.len() || to >= self.links.len() {
            return Err(Drop::Unknown);
        }
        if let Some(side) = &self.side
            && side.get(from) != side.get(to)
        {
            return Err(Drop::Partition);
        }
        let link = self.links[from];
        self.up[from].pass(&link, now, bytes, &mut self.rng)
    }

    /// When a packet of `bytes` for node `to` that reached the switch at `at` (from
    /// [`Model::enter`]) is due at `to`. Call it in the order packets reach the switch:
    /// the downlink serves them first come, first served.
    pub fn leave(&mut self, to: usize, bytes: usize, at: Instant) -> Result<Instant, Drop> {
        let Some(&link) = self.links.get(to) else {
            return Err(Drop::Unknown);
        };
        self.down[to].pass(&link, at, bytes, &mut self.rng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Both links at once: right for packets of one sender, sent in order.
    fn route(
        m: &mut Model,
        from: usize,
        to: usize,
        bytes: usize,
        now: Instant,
    ) -> Result<Instant, Drop> {
        let at = m.enter(from, to, bytes, now)?;
        m.leave(to, bytes, at)
    }

    /// A regression test: node 0's uplink holds a long queue for node 2, and node 1, idle,
    /// sends node 2 one packet. It must arrive after its own links' delay and
    /// serialization, not behind node 0's queue (as when both links were computed at send
    /// time). The switch events run in time order, as the emulator's heap runs them.
    #[test]
    fn a_shared_downlink_serves_packets_in_the_order_they_reach_it() {
        // 8 Mbit/s (1 ms per 1000 bytes), 5 ms per link, a deep queue.
        let link = Link {
            delay: ms(5),
            rate_bps: Some(8_000_000),
            queue_bytes: 1_000_000,
            ..Link::default()
        };
        let t0 = Instant::now();
        let mut m = Model::new(vec![link; 3], t0, 1);
        let mut switch: Vec<(Instant, usize)> = (0..200)
            .map(|_| (m.enter(0, 2, 1000, t0).expect("queued"), 0))
            .collect();
        let idle = t0 + ms(1);
        switch.push((m.enter(1, 2, 1000, idle).expect("sent"), 1));
        switch.sort();
        let mut due = Vec::new();
        for (at, from) in switch {
            due.push((m.leave(2, 1000, at).expect("delivered"), from));
        }
        let (idle_due, _) = due
            .iter()
            .find(|(_, f)| *f == 1)
            .copied()
            .expect("node 1's");
        let last_busy = due
            .iter()
            .filter(|(_, f)| *f == 0)
            .map(|(t, _)| *t)
            .max()
            .expect("node 0's");
        // Its own uplink and downlink: 2 × (1 ms + 5 ms), plus at most one packet of node
        // 0's being serialized on the downlink when it arrives.
        assert!(idle_due - idle <= ms(13), "{:?}", idle_due - idle);
        assert!(
            last_busy - t0 >= ms(200),
            "node 0's queue drains at the link rate"
        );
    }

    #[test]
    fn delay_adds_up_to_the_rtt() {
        let link = Link::between(ms(80), Duration::ZERO, 0.0, None);
        assert_eq!(link.delay, ms(20));
        let t0 = Instant::now();
        let mut m = Model::new(vec![link; 2], t0, 1);
        let there = route(&mut m, 0, 1, 100, t0).expect("delivered");
        let back = route(&mut m, 1, 0, 100, there).expect("delivered");
        assert_eq!(back - t0, ms(80));
    }

    #[test]
    fn rate_serializes_and_the_queue_is_bounded() {
        // 8 Mbit/s: a 1000-byte packet takes 1 ms per link.
        let link = Link {
            rate_bps: Some(8_000_000),
            queue_bytes: 10_000,
            ..Link::default()
        };
        let t0 = Instant::now();
        let mut m = Model::new(vec![link; 2], t0, 1);
        let first = route(&mut m, 0, 1, 1000, t0).expect("delivered");
        assert_eq!(first - t0, ms(2));
        let second = route(&mut m, 0, 1, 1000, t0).expect("delivered");
        assert_eq!(second - t0, ms(3), "queued behind the first on both links");
        // A burst beyond the queue bound is dropped at the tail.
        let dropped = (0..50)
            .filter(|_| route(&mut m, 0, 1, 1000, t0) == Err(Drop::Queue))
            .count();
        assert!(dropped > 30, "{dropped}");
    }

    #[test]
    fn loss_matches_its_rate_and_jitter_never_reorders() {
        let link = Link::between(ms(40), ms(10), 0.05, None);
        let t0 = Instant::now();
        let mut m = Model::new(vec![link; 2], t0, 7);
        let mut lost = 0;
        let mut last = t0;
        for i in 0..20_000u32 {
            let now = t0 + Duration::from_micros(u64::from(i) * 100);
            match route(&mut m, 0, 1, 100, now) {
                Ok(at) => {
                    assert!(at >= last, "reordered");
                    let one_way = at - now;
                    assert!(
                        one_way >= ms(10) && one_way <= ms(30) + ms(10),
                        "{one_way:?}"
                    );
                    last = at;
                }
                Err(Drop::Lost) => lost += 1,
                Err(e) => panic!("{e:?}"),
            }
        }
        let rate = f64::from(lost) / 20_000.0;
        assert!((0.04..0.06).contains(&rate), "one-way loss {rate}");
    }

    #[test]
    fn partitions_drop_between_sides_and_heal() {
        let t0 = Instant::now();
        let mut m = Model::new(vec![Link::default(); 4], t0, 1);
        m.set_partition(Some(vec![0, 0, 1, 1]));
        assert!(route(&mut m, 0, 1, 10, t0).is_ok());
        assert_eq!(route(&mut m, 1, 2, 10, t0), Err(Drop::Partition));
        m.set_partition(None);
        assert!(route(&mut m, 1, 2, 10, t0).is_ok());
        assert_eq!(route(&mut m, 1, 9, 10, t0), Err(Drop::Unknown));
    }
}
