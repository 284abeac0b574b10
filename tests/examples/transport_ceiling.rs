//! The transport's ceiling: how fast one libp2p stream moves bytes between two processes
//! on this machine over the stack BitSwap uses (TCP on 127.0.0.1, noise, yamux with
//! ipfsd's stream-window cap, `libp2p-stream`), with nothing else running: no BitSwap, no
//! store, no hashing. A BitSwap transfer cannot beat this figure.
//!
//!   transport_ceiling serve            prints its /p2p/ address, sends MiB on request
//!   transport_ceiling fetch ADDR MIB   opens a stream, asks for MIB, reads and discards
//!   transport_ceiling fetch ADDR MIB --floor DIR
//!                                      the same, plus the least a fetching node must do
//!                                      with each 256 KiB block before its client has it
//!                                      (see `Floor`)
//!
//! `bash scripts/bench-transport.sh` runs both and reports MB/s and each side's CPU time.
//! The `fetch` side prints one JSON line: {"mib", "seconds", "mbps"}.

use futures::{AsyncReadExt, AsyncWriteExt, StreamExt};
use libp2p::identity::Keypair;
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, StreamProtocol, noise, tcp, yamux};
use sha2::Digest;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const PROTOCOL: StreamProtocol = StreamProtocol::new("/ipfsd/transport-ceiling/1");
/// What BitSwap writes at once: one 256 KiB block.
const CHUNK: usize = 256 << 10;

fn yamux_config() -> yamux::Config {
    // As ipfsd's (node/src/net/task/mod.rs): stream windows stay at or under 1 MiB.
    let mut c = yamux::Config::default();
    c.set_max_num_streams(4093);
    c
}

fn swarm() -> libp2p::Swarm<libp2p_stream::Behaviour> {
    libp2p::SwarmBuilder::with_existing_identity(Keypair::generate_ed25519())
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux_config,
        )
        .expect("transport")
        .with_behaviour(|_| libp2p_stream::Behaviour::new())
        .expect("behaviour")
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build()
}

async fn serve() {
    let mut swarm = swarm();
    let mut incoming = swarm
        .behaviour()
        .new_control()
        .accept(PROTOCOL)
        .expect("accept");
    swarm
        .listen_on("/ip4/127.0.0.1/tcp/0".parse().expect("addr"))
        .expect("listen");
    let me = *swarm.local_peer_id();
    loop {
        if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
            println!("{address}/p2p/{me}");
            break;
        }
    }
    tokio::spawn(async move {
        loop {
            swarm.select_next_some().await;
        }
    });
    let block = vec![0x5au8; CHUNK];
    while let Some((_, mut s)) = incoming.next().await {
        let mut ask = [0u8; 8];
        if s.read_exact(&mut ask).await.is_err() {
            continue;
        }
        let mut left = u64::from_be_bytes(ask) as usize;
        while left > 0 {
            let n = left.min(CHUNK);
            if s.write_all(&block[..n]).await.is_err() {
                break;
            }
            left -= n;
        }
        let _ = s.close().await;
    }
}

/// The work a node fetching a file for `ipfsd cat` cannot skip, beyond the transport:
/// hash each block once on receipt; write it to disk (appended to one file, synced every
/// 32 MiB as the store commits its batches); hand it over a loopback TCP connection to a
/// separate client process, which writes it to a pipe that `wc -c` counts (the benchmark's
/// own counter, as in `bench-loopback.sh`). No protocol, no index, no DAG: a floor, not a
/// model. Disk and client run on their own thread, as the store writer and HTTP do.
///
/// `FLOOR_SKIP` (a comma-separated list of `hash`, `disk`, `client`) leaves steps out, to
/// see what each costs; the client still counts every byte.
struct Floor {
    hash: bool,
    tx: std::sync::mpsc::SyncSender<Vec<u8>>,
    writer: std::thread::JoinHandle<std::io::Result<()>>,
    child: std::process::Child,
    dir: PathBuf,
}

/// Bytes between two syncs of the floor's file.
const FLOOR_SYNC: usize = 32 << 20;

impl Floor {
    fn start(dir: &Path) -> Floor {
        let skip = std::env::var("FLOOR_SKIP").unwrap_or_default();
        let skip = |step: &str| skip.split(',').any(|s| s == step);
        let (hash, disk, direct) = (!skip("hash"), !skip("disk"), skip("client"));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let exe = std::env::current_exe().expect("exe");
        // Without the client process, the connection goes straight to the counter.
        let client = if direct {
            r#"exec 3<>/dev/tcp/127.0.0.1/"$1"; wc -c <&3 > "$2/count""#
        } else {
            r#""$0" sink "$1" | wc -c > "$2/count""#
        };
        let child = std::process::Command::new("bash")
            .arg("-c")
            .arg(client)
            .arg(exe)
            .arg(port.to_string())
            .arg(dir)
            .spawn()
            .expect("client");
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(64);
        let path = dir.join("blocks");
        let writer = std::thread::spawn(move || {
            // The client has 10 s to connect (a client that never does must not hang the
            // benchmark).
            listener.set_nonblocking(true)?;
            let deadline = Instant::now() + Duration::from_secs(10);
            let mut client = loop {
                match listener.accept() {
                    Ok((c, _)) => break c,
                    Err(e)
                        if e.kind() == std::io::ErrorKind::WouldBlock
                            && Instant::now() < deadline =>
                    {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(e) => return Err(e),
                }
            };
            client.set_nonblocking(false)?;
            let mut file = std::fs::File::create(path)?;
            let mut unsynced = 0;
            for block in rx {
                if disk {
                    file.write_all(&block)?;
                    unsynced += block.len();
                    if unsynced >= FLOOR_SYNC {
                        file.sync_data()?;
                        unsynced = 0;
                    }
                }
                client.write_all(&block)?;
            }
            file.sync_data()?;
            client.shutdown(std::net::Shutdown::Write)
        });
        Floor {
            hash,
            tx,
            writer,
            child,
            dir: dir.to_owned(),
        }
    }

    fn block(&self, block: Vec<u8>) {
        if self.hash {
            std::hint::black_box(sha2::Sha256::digest(&block));
        }
        self.tx.send(block).expect("writer");
    }

    /// Waits until the client has counted everything; the count it saw.
    fn finish(mut self) -> u64 {
        drop(self.tx);
        self.writer.join().expect("writer").expect("disk or client");
        assert!(
            self.child.wait().expect("client").success(),
            "client failed"
        );
        std::fs::read_to_string(self.dir.join("count"))
            .expect("count")
            .trim()
            .parse()
            .expect("a count")
    }
}

/// The floor's client process: what arrives on the connection goes to standard output.
fn sink(port: u16) {
    let mut from = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let mut out = std::io::stdout().lock();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = from.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n]).expect("write");
    }
    out.flush().expect("flush");
}

async fn fetch(addr: Multiaddr, mib: u64, floor: Option<PathBuf>) {
    assert!(
        addr.to_string().starts_with("/ip4/127.0.0.1/"),
        "loopback only: {addr}"
    );
    let Some(libp2p::multiaddr::Protocol::P2p(peer)) = addr.iter().last() else {
        panic!("{addr}: no /p2p/ peer ID");
    };
    let mut swarm = swarm();
    let mut control = swarm.behaviour().new_control();
    swarm.dial(addr).expect("dial");
    loop {
        if let SwarmEvent::ConnectionEstablished { .. } = swarm.select_next_some().await {
            break;
        }
    }
    tokio::spawn(async move {
        loop {
            swarm.select_next_some().await;
        }
    });
    let mut s = control.open_stream(peer, PROTOCOL).await.expect("stream");
    let want = mib << 20;
    let floor = floor.as_deref().map(Floor::start);
    let started = Instant::now();
    s.write_all(&want.to_be_bytes()).await.expect("ask");
    s.flush().await.expect("flush");
    let mut got = 0u64;
    match &floor {
        None => {
            let mut buf = vec![0u8; CHUNK];
            while got < want {
                let n = s.read(&mut buf).await.expect("read");
                assert!(n > 0, "stream ended after {got} bytes");
                got += n as u64;
            }
        }
        Some(f) => {
            // A fresh buffer per block, as a block received is kept and handed on.
            while got < want {
                let len = (want - got).min(CHUNK as u64) as usize;
                let mut block = vec![0u8; len];
                s.read_exact(&mut block).await.expect("read");
                got += len as u64;
                f.block(block);
            }
        }
    }
    if let Some(f) = floor {
        assert_eq!(f.finish(), want, "the client's count");
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({ "mib": mib, "seconds": secs, "mbps": mib as f64 / secs })
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["serve"] => rt.block_on(serve()),
        ["fetch", addr, mib] => rt.block_on(fetch(
            addr.parse().expect("a multiaddr"),
            mib.parse().expect("MiB"),
            None,
        )),
        ["fetch", addr, mib, "--floor", dir] => rt.block_on(fetch(
            addr.parse().expect("a multiaddr"),
            mib.parse().expect("MiB"),
            Some(PathBuf::from(dir)),
        )),
        ["sink", port] => sink(port.parse().expect("a port")),
        _ => {
            eprintln!("usage: transport_ceiling serve | fetch ADDR MIB [--floor DIR] | sink PORT");
            std::process::exit(2);
        }
    }
}
