//! Runtime log levels (`ipfsd log level`, `ipfsd log ls`): the library never installs a
//! global `tracing` subscriber; the program that does (the `ipfsd` binary) hands the
//! daemon a [`LogControl`], and the RPC API's `log/level` and `log/ls` call it.
//!
//! Data flow: `log/level <subsystem|all> <level>` → [`LogControl::set_level`] → the
//! binary's implementation updates its [`Levels`] (the filter as directives, pure) and
//! reloads its subscriber's filter with [`Levels::directives`].

use std::collections::BTreeMap;

/// The subsystems whose level can be set: the workspace's crates and the libraries whose
/// logs matter (each is a `tracing` target prefix).
pub const SUBSYSTEMS: &[&str] = &[
    "bitswap",
    "dag",
    "hyper",
    "ipfsd",
    "ipns",
    "libp2p_identify",
    "libp2p_kad",
    "libp2p_noise",
    "libp2p_ping",
    "libp2p_quic",
    "libp2p_swarm",
    "libp2p_tcp",
    "node",
    "redb",
    "yamux",
];

/// The levels accepted (Kubo's `fatal`/`panic`/`dpanic` have no `tracing` counterpart).
pub const LEVELS: &[&str] = &["trace", "debug", "info", "warn", "error", "off"];

/// Changing log levels failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// Not one of [`SUBSYSTEMS`] or `all`.
    #[error("unknown log subsystem {name:?} (see `ipfsd log ls`)")]
    UnknownSubsystem {
        /// The name given.
        name: String,
    },
    /// Not one of [`LEVELS`].
    #[error("invalid log level {level:?}: expected one of trace, debug, info, warn, error, off")]
    BadLevel {
        /// The level given.
        level: String,
    },
    /// The subscriber refused the new filter.
    #[error("cannot change the log filter: {reason}")]
    Reload {
        /// Why.
        reason: String,
    },
    /// This process did not give the daemon a way to change its logging.
    #[error("this daemon's log levels cannot be changed while it runs")]
    Unsupported,
}

/// What the daemon's embedder lets the API do with its logging.
pub trait LogControl: std::fmt::Debug + Send + Sync {
    /// Sets `subsystem` (one of [`SUBSYSTEMS`], or `all`) to `level`.
    fn set_level(&self, subsystem: &str, level: &str) -> Result<(), LogError>;

    /// The subsystems that can be set.
    fn subsystems(&self) -> Vec<String> {
        SUBSYSTEMS.iter().map(|s| s.to_string()).collect()
    }
}

/// A log filter as directives: a default level, per-target levels, and whatever else the
/// starting filter (`RUST_LOG`) said, kept as it was. Pure: the binary renders it with
/// [`Levels::directives`] into its `EnvFilter`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Levels {
    default: Option<String>,
    targets: BTreeMap<String, String>,
    /// Directives other than `level` and `target=level` (spans, fields), kept in order.
    other: Vec<String>,
}

impl Levels {
    /// Parses a filter string such as `info,libp2p_kad::behaviour=error`.
    pub fn parse(filter: &str) -> Levels {
        let mut levels = Levels {
            default: None,
            targets: BTreeMap::new(),
            other: Vec::new(),
        };
        for d in filter.split(',').map(str::trim).filter(|d| !d.is_empty()) {
            match d.split_once('=') {
                None if LEVELS.contains(&d.to_ascii_lowercase().as_str()) => {
                    levels.default = Some(d.to_ascii_lowercase());
                }
                Some((target, level))
                    if !target.contains(['[', '{'])
                        && LEVELS.contains(&level.to_ascii_lowercase().as_str()) =>
                {
                    levels
                        .targets
                        .insert(target.to_string(), level.to_ascii_lowercase());
                }
                _ => levels.other.push(d.to_string()),
            }
        }
        levels
    }

    /// Sets `subsystem` to `level`: `all` makes `level` the only directive; a subsystem
    /// replaces its own directive and those of its modules (`node` clears `node::net`).
    pub fn set(&mut self, subsystem: &str, level: &str) -> Result<(), LogError> {
        let level = level.to_ascii_lowercase();
        if !LEVELS.contains(&level.as_str()) {
            return Err(LogError::BadLevel { level });
        }
        if subsystem == "all" || subsystem == "*" {
            self.default = Some(level);
            self.targets.clear();
            self.other.clear();
            return Ok(());
        }
        if !SUBSYSTEMS.contains(&subsystem) {
            return Err(LogError::UnknownSubsystem {
                name: subsystem.to_string(),
            });
        }
        let inner = format!("{subsystem}::");
        self.targets
            .retain(|t, _| t != subsystem && !t.starts_with(&inner));
        self.targets.insert(subsystem.to_string(), level);
        Ok(())
    }

    /// The filter string (`EnvFilter` syntax).
    pub fn directives(&self) -> String {
        let mut out: Vec<String> = self.default.iter().cloned().collect();
        out.extend(self.other.iter().cloned());
        out.extend(self.targets.iter().map(|(t, l)| format!("{t}={l}")));
        out.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_round_trip_and_replace() {
        let mut l = Levels::parse("info,libp2p_kad::behaviour=error,node[span]=debug");
        assert_eq!(
            l.directives(),
            "info,node[span]=debug,libp2p_kad::behaviour=error"
        );
        l.set("libp2p_kad", "debug").expect("set");
        assert_eq!(l.directives(), "info,node[span]=debug,libp2p_kad=debug");
        l.set("bitswap", "TRACE").expect("set");
        assert_eq!(
            l.directives(),
            "info,node[span]=debug,bitswap=trace,libp2p_kad=debug"
        );
        l.set("all", "warn").expect("all");
        assert_eq!(l.directives(), "warn");
        assert!(matches!(
            l.set("nonsense", "info"),
            Err(LogError::UnknownSubsystem { .. })
        ));
        assert!(matches!(
            l.set("node", "loud"),
            Err(LogError::BadLevel { .. })
        ));
        assert_eq!(l.directives(), "warn");
    }
}
