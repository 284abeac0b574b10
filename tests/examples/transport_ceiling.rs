//! The transport's ceiling: how fast one libp2p stream moves bytes between two processes
//! on this machine over the stack BitSwap uses (TCP on 127.0.0.1, noise, yamux with
//! ipfsd's stream-window cap, `libp2p-stream`), with nothing else running: no BitSwap, no
//! store, no hashing. A BitSwap transfer cannot beat this figure.
//!
//!   transport_ceiling serve            prints its /p2p/ address, sends MiB on request
//!   transport_ceiling fetch ADDR MIB   opens a stream, asks for MIB, reads and discards
//!
//! `bash scripts/bench-transport.sh` runs both and reports MB/s and each side's CPU time.
//! The `fetch` side prints one JSON line: {"mib", "seconds", "mbps"}.

use futures::{AsyncReadExt, AsyncWriteExt, StreamExt};
use libp2p::identity::Keypair;
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, StreamProtocol, noise, tcp, yamux};
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

async fn fetch(addr: Multiaddr, mib: u64) {
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
    let started = Instant::now();
    s.write_all(&want.to_be_bytes()).await.expect("ask");
    s.flush().await.expect("flush");
    let mut buf = vec![0u8; CHUNK];
    let mut got = 0u64;
    while got < want {
        let n = s.read(&mut buf).await.expect("read");
        assert!(n > 0, "stream ended after {got} bytes");
        got += n as u64;
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
        )),
        _ => {
            eprintln!("usage: transport_ceiling serve | fetch ADDR MIB");
            std::process::exit(2);
        }
    }
}
