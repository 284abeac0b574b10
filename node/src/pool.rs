//! Threads for the blocking work of the HTTP front ends (gateway and RPC API), bounded in
//! number and kept between jobs.
//!
//! Before these pools, every gateway body started a thread of its own and every store
//! read went to tokio's blocking pool (up to 512 threads, each let go after 10 s idle).
//! Under 64 connections of range requests the daemon started some 7,000 threads a second,
//! ran up to ~270 at once, and its resident memory reached ~1 GiB: each thread keeps its
//! own allocator pages. Here a job goes to an idle thread, or to a new one only below the
//! pool's limit, or else waits in the queue; threads end after [`KEEP_ALIVE`] without work.
//!
//! Two pools per process ([`local`], [`waiting`]), so that jobs that may wait for a long
//! time (on the network, on a slow client) can never take every thread local reads need:
//! - [`local`]: work that only reads or writes the store, never the network (the
//!   gateway's resolving and reading through its store-only source). As many threads as
//!   the disk and CPUs can use.
//! - [`waiting`]: work that may wait: response bodies fed to a client at its pace, fetches
//!   from the network, and the RPC API's commands (their paths may resolve through
//!   fetched blocks). Its limit is the sum of the front ends' own limits on such work
//!   (the gateway's streams and fetches, the API's streams), so a job queues only when a
//!   front end is past its own bound.
//!
//! The callers bound how much they submit (the gateway's semaphores); the queue is also
//! capped ([`Pool::spawn`] refuses past it) so a bug upstream cannot grow it unbounded.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, LazyLock, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// How long a thread without work stays.
pub const KEEP_ALIVE: Duration = Duration::from_secs(30);
/// Jobs queued per thread of the limit before [`Pool::spawn`] refuses more.
const QUEUE_PER_THREAD: usize = 64;
/// Threads of the [`waiting`] pool: the gateway's streams and fetches (32 + 32), and the
/// RPC API's commands and streamed responses.
pub const WAITING_THREADS: usize = 160;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// A pool of threads (see the module docs).
#[derive(Clone)]
pub struct Pool {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.shared.state();
        f.debug_struct("Pool")
            .field("name", &self.shared.name)
            .field("max", &self.shared.max)
            .field("threads", &s.threads)
            .field("queued", &s.queue.len())
            .finish()
    }
}

struct Shared {
    name: &'static str,
    max: usize,
    keep_alive: Duration,
    state: Mutex<State>,
    work: Condvar,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    threads: usize,
    idle: usize,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Why a job was not taken.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PoolError {
    /// The queue is full.
    #[error("the {pool} thread pool is overloaded ({queued} jobs waiting)")]
    Overloaded {
        /// The pool's name.
        pool: &'static str,
        /// Jobs waiting.
        queued: usize,
    },
    /// No thread could be started and none runs.
    #[error("cannot start a {pool} thread: {reason}")]
    NoThread {
        /// The pool's name.
        pool: &'static str,
        /// What the OS said.
        reason: String,
    },
    /// The job panicked (or was dropped) before it answered.
    #[error("a {pool} job ended without an answer (it panicked)")]
    Lost {
        /// The pool's name.
        pool: &'static str,
    },
}

/// Threads for work that only touches the store: twice the CPUs, at least 4, at most 16.
pub fn local() -> &'static Pool {
    static POOL: LazyLock<Pool> = LazyLock::new(|| {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        Pool::new("store", (2 * cpus).clamp(4, 16), KEEP_ALIVE)
    });
    &POOL
}

/// Threads for work that may wait on the network or on a client ([`WAITING_THREADS`]).
pub fn waiting() -> &'static Pool {
    static POOL: LazyLock<Pool> =
        LazyLock::new(|| Pool::new("waiting", WAITING_THREADS, KEEP_ALIVE));
    &POOL
}

impl Pool {
    /// A pool of at most `max` threads (at least one), each ending after `keep_alive` idle.
    pub fn new(name: &'static str, max: usize, keep_alive: Duration) -> Pool {
        Pool {
            shared: Arc::new(Shared {
                name,
                max: max.max(1),
                keep_alive,
                state: Mutex::default(),
                work: Condvar::new(),
            }),
        }
    }

    /// The most threads this pool runs.
    pub fn max_threads(&self) -> usize {
        self.shared.max
    }

    /// Threads running now (busy or idle).
    pub fn threads(&self) -> usize {
        self.shared.state().threads
    }

    /// Queues `job`; starts a thread for it if none is idle and the pool is below its limit.
    pub fn spawn(&self, job: impl FnOnce() + Send + 'static) -> Result<(), PoolError> {
        let shared = &self.shared;
        let mut s = shared.state();
        if s.queue.len() >= shared.max * QUEUE_PER_THREAD {
            return Err(PoolError::Overloaded {
                pool: shared.name,
                queued: s.queue.len(),
            });
        }
        s.queue.push_back(Box::new(job));
        // Idle threads already waiting take the queued jobs first.
        if s.idle >= s.queue.len() || s.threads >= shared.max {
            drop(s);
            shared.work.notify_one();
            return Ok(());
        }
        s.threads += 1;
        drop(s);
        let worker = self.shared.clone();
        let started = std::thread::Builder::new()
            .name(format!("ipfsd-{}", self.shared.name))
            .spawn(move || work(&worker));
        if let Err(e) = started {
            let mut s = shared.state();
            s.threads -= 1;
            if s.threads == 0 {
                // Nothing will run what was queued: take this job back out.
                s.queue.pop_back();
                return Err(PoolError::NoThread {
                    pool: shared.name,
                    reason: e.to_string(),
                });
            }
            // The running threads will get to it.
        }
        Ok(())
    }

    /// Runs `f` on the pool and answers its result. A panic in `f` is an error here, and
    /// the thread goes on to the next job.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PoolError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.spawn(move || {
            let _ = tx.send(f());
        })?;
        rx.await.map_err(|_| PoolError::Lost {
            pool: self.shared.name,
        })
    }
}

/// A pool thread: runs queued jobs, ends after `keep_alive` without one.
fn work(shared: &Shared) {
    let mut s = shared.state();
    loop {
        if let Some(job) = s.queue.pop_front() {
            drop(s);
            // A panicking job loses its own answer (its sender drops), not the thread.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            s = shared.state();
            continue;
        }
        s.idle += 1;
        let (next, timeout) = shared
            .work
            .wait_timeout_while(s, shared.keep_alive, |s| s.queue.is_empty())
            .unwrap_or_else(PoisonError::into_inner);
        s = next;
        s.idle -= 1;
        if timeout.timed_out() && s.queue.is_empty() {
            s.threads -= 1;
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;

    #[tokio::test]
    async fn threads_stay_within_the_limit_and_every_job_runs() {
        let pool = Pool::new("test", 3, Duration::from_secs(5));
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let release = Arc::new(Mutex::new(release_rx));
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let (done_tx, done_rx) = mpsc::channel();
        for _ in 0..20 {
            let (release, running, most, done) = (
                release.clone(),
                running.clone(),
                most.clone(),
                done_tx.clone(),
            );
            pool.spawn(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                release.lock().expect("lock").recv().expect("release");
                running.fetch_sub(1, Ordering::SeqCst);
                done.send(()).expect("done");
            })
            .expect("queued");
        }
        assert_eq!(pool.threads(), 3, "{pool:?}");
        // Three jobs run at once, and no more while they hold their threads.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while running.load(Ordering::SeqCst) < 3 {
            assert!(std::time::Instant::now() < deadline, "{pool:?}");
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(running.load(Ordering::SeqCst), 3);
        for _ in 0..20 {
            release_tx.send(()).expect("release");
        }
        for _ in 0..20 {
            done_rx
                .recv_timeout(Duration::from_secs(10))
                .expect("every job runs");
        }
        assert_eq!(most.load(Ordering::SeqCst), 3);
        assert_eq!(pool.threads(), 3, "threads are kept between jobs");
    }

    #[tokio::test]
    async fn idle_threads_end_and_new_work_starts_them_again() {
        let pool = Pool::new("test", 2, Duration::from_millis(50));
        assert_eq!(pool.run(|| 1 + 1).await.expect("run"), 2);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while pool.threads() > 0 {
            assert!(std::time::Instant::now() < deadline, "{pool:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(pool.run(|| 3).await.expect("run"), 3);
    }

    #[tokio::test]
    async fn a_panicking_job_is_an_error_and_the_thread_goes_on() {
        let pool = Pool::new("test", 1, Duration::from_secs(5));
        let lost = pool.run(|| panic!("job bug")).await;
        assert!(matches!(lost, Err::<(), _>(PoolError::Lost { .. })));
        assert_eq!(pool.run(|| 7).await.expect("run"), 7);
        assert_eq!(pool.threads(), 1);
    }

    #[tokio::test]
    async fn a_full_queue_refuses_more() {
        let pool = Pool::new("test", 1, Duration::from_secs(5));
        let (started_tx, started_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        pool.spawn(move || {
            started_tx.send(()).expect("started");
            let _ = release_rx.recv();
        })
        .expect("first job");
        started_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the first job runs");
        // The only thread is busy: QUEUE_PER_THREAD jobs wait, the next is refused.
        for _ in 0..QUEUE_PER_THREAD {
            pool.spawn(|| {}).expect("queued");
        }
        assert!(matches!(
            pool.spawn(|| {}),
            Err(PoolError::Overloaded { queued, .. }) if queued == QUEUE_PER_THREAD
        ));
        drop(release_tx);
    }
}
