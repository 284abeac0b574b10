//! `diag sys`: what the node runs on, in Kubo's shape (`ipfs diag sys`): version, OS and
//! architecture, CPUs, memory (the process's resident and virtual size, the machine's
//! total), the repository's disk, its path, and the swarm's listen addresses.
//!
//! Data flow: [`sys`] reads `/proc` (Linux; elsewhere those fields are `null`) and the
//! repository's file system on the blocking pool, and the listen addresses from the
//! network task.

use crate::Node;
use serde_json::{Value, json};

/// The `diag/sys` report.
pub async fn sys(node: &Node) -> Value {
    let repo = node.repo_path().map(|p| p.to_path_buf());
    let host = tokio::task::spawn_blocking(move || {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let disk = repo
            .as_deref()
            .and_then(|p| rustix::fs::statvfs(p).ok())
            .map(|v| {
                json!({
                    "free_space": v.f_bavail.saturating_mul(v.f_frsize),
                    "total_space": v.f_blocks.saturating_mul(v.f_frsize),
                })
            });
        json!({
            "rss": kib(&status, "VmRSS:"),
            "virt": kib(&status, "VmSize:"),
            "swap": kib(&status, "VmSwap:"),
            "total": kib(&meminfo, "MemTotal:"),
            "threads": number(&status, "Threads:"),
            "disk": disk,
        })
    })
    .await
    .unwrap_or(Value::Null);
    let addrs: Vec<String> = node
        .listen_addrs()
        .await
        .unwrap_or_default()
        .iter()
        .map(ToString::to_string)
        .collect();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    json!({
        "ipfs_version": env!("CARGO_PKG_VERSION"),
        "ipfs_commit": "",
        "runtime": {
            "os": std::env::consts::OS,
            "arch": std::env::consts::ARCH,
            "compiler": "rustc",
            "numcpu": cpus,
            "tasks": node.tasks().len(),
            "threads": host["threads"],
        },
        "memory": {
            "rss": host["rss"],
            "virt": host["virt"],
            "swap": host["swap"],
            "total": host["total"],
        },
        "diskinfo": host["disk"],
        "environment": {
            "IPFS_PATH": node.repo_path().map_or_else(|| ":memory:".to_string(), |p| p.display().to_string()),
        },
        "net": {
            "online": node.is_online(),
            "interface_addresses": addrs,
        },
    })
}

/// The number on a `Name:   123` line of a `/proc` file.
fn number(text: &str, name: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(name))?;
    line[name.len()..].split_whitespace().next()?.parse().ok()
}

/// A `Name:   123 kB` line of a `/proc` file, in bytes.
fn kib(text: &str, name: &str) -> Option<u64> {
    number(text, name).map(|n| n.saturating_mul(1024))
}

#[cfg(test)]
mod tests {
    #[test]
    fn proc_fields() {
        let status = "Name:\tipfsd\nVmRSS:\t   2048 kB\nThreads:\t7\n";
        assert_eq!(super::kib(status, "VmRSS:"), Some(2048 * 1024));
        assert_eq!(super::number(status, "Threads:"), Some(7));
        assert_eq!(super::kib(status, "VmSwap:"), None);
    }
}
