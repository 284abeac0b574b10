//! BitSwap's settings: one typed struct with defaults, read by the engine (windows, rate,
//! strategy, ledger persistence and exchange) and by fetches (window, idle timeout).

use std::path::PathBuf;
use std::time::Duration;

use crate::strategy::Strategy;

/// BitSwap settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Whom to serve first.
    pub strategy: Strategy,
    /// Where ledgers persist (`None`: memory only).
    pub ledger_path: Option<PathBuf>,
    /// Block bytes queued for sending, all peers together.
    pub upload_window: u64,
    /// Block bytes queued for sending to one peer.
    pub peer_upload_window: u64,
    /// Upload limit in block bytes per second, all peers together (`None`: unlimited).
    pub upload_rate: Option<u64>,
    /// Blocks a DAG fetch keeps wanted at once.
    pub fetch_window: usize,
    /// A fetch fails when no block arrives for this long.
    pub fetch_idle_timeout: Duration,
    /// Seed for the scheduler's randomness (`None`: from the OS).
    pub seed: Option<u64>,
    /// Whether to exchange ledgers with ipfsd peers on connect.
    pub ledger_exchange: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            strategy: Strategy::Sigmoid,
            ledger_path: None,
            upload_window: 16 << 20,
            peer_upload_window: 16 << 20,
            upload_rate: None,
            fetch_window: 128,
            fetch_idle_timeout: Duration::from_secs(60),
            seed: None,
            ledger_exchange: true,
        }
    }
}
