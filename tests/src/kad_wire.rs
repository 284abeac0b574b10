//! Raw Kademlia for tests and the DHT benchmark: the DHT's protobuf messages (libp2p/specs
//! `kad-dht`), length-prefixed framing, and a bare libp2p client (TCP + noise + yamux with
//! `libp2p-stream`, no Kademlia or identify of its own) that opens raw `/ipfs/kad/1.0.0`
//! streams to nodes, so a test can say exactly what goes over the wire.

use futures::{AsyncReadExt, StreamExt};
use libp2p::identity::Keypair;
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, Stream, StreamProtocol, noise, tcp, yamux};
use prost::Message as _;
use std::collections::HashSet;
use std::io;
use std::time::Duration;

/// The WAN DHT protocol.
pub const KAD_WAN: StreamProtocol = StreamProtocol::new("/ipfs/kad/1.0.0");
/// The LAN DHT protocol.
pub const KAD_LAN: StreamProtocol = StreamProtocol::new("/ipfs/lan/kad/1.0.0");
/// `Message.MessageType.PUT_VALUE`.
pub const PUT_VALUE: i32 = 0;
/// `Message.MessageType.GET_VALUE`.
pub const GET_VALUE: i32 = 1;
/// `Message.MessageType.ADD_PROVIDER`.
pub const ADD_PROVIDER: i32 = 2;
/// `Message.MessageType.FIND_NODE`.
pub const FIND_NODE: i32 = 4;

/// The Kademlia DHT protobuf messages.
pub mod pb {
    /// A record (`PUT_VALUE`, `GET_VALUE`).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Record {
        /// The key.
        #[prost(bytes = "vec", tag = "1")]
        pub key: Vec<u8>,
        /// The value.
        #[prost(bytes = "vec", tag = "2")]
        pub value: Vec<u8>,
        /// When the record was received (RFC 3339), set by the receiver.
        #[prost(string, tag = "5")]
        pub time_received: String,
    }

    /// A peer in an answer.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Peer {
        /// Its peer ID, binary.
        #[prost(bytes = "vec", tag = "1")]
        pub id: Vec<u8>,
        /// Its addresses, binary multiaddrs.
        #[prost(bytes = "vec", repeated, tag = "2")]
        pub addrs: Vec<Vec<u8>>,
        /// Connection type.
        #[prost(int32, tag = "3")]
        pub connection: i32,
    }

    /// A request or answer.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Message {
        /// The message type.
        #[prost(int32, tag = "1")]
        pub r#type: i32,
        /// The key.
        #[prost(bytes = "vec", tag = "2")]
        pub key: Vec<u8>,
        /// The record.
        #[prost(message, optional, tag = "3")]
        pub record: Option<Record>,
        /// Closer peers.
        #[prost(message, repeated, tag = "8")]
        pub closer_peers: Vec<Peer>,
        /// Providers.
        #[prost(message, repeated, tag = "9")]
        pub provider_peers: Vec<Peer>,
        /// Unused by the protocol.
        #[prost(int32, tag = "10")]
        pub cluster_level_raw: i32,
    }
}

/// An unsigned-varint length prefix.
pub fn prefix(len: usize) -> Vec<u8> {
    let mut buf = unsigned_varint::encode::usize_buffer();
    unsigned_varint::encode::usize(len, &mut buf).to_vec()
}

/// One framed message: length prefix ‖ protobuf.
pub fn frame(msg: &pb::Message) -> Vec<u8> {
    let body = msg.encode_to_vec();
    let mut out = prefix(body.len());
    out.extend_from_slice(&body);
    out
}

/// A `FIND_NODE` request for `target`.
pub fn find_node(target: &PeerId) -> pb::Message {
    pb::Message {
        r#type: FIND_NODE,
        key: target.to_bytes(),
        ..pb::Message::default()
    }
}

/// A `PUT_VALUE` request storing `value` under `key`.
pub fn put_value(key: &[u8], value: &[u8]) -> pb::Message {
    pb::Message {
        r#type: PUT_VALUE,
        key: key.to_vec(),
        record: Some(pb::Record {
            key: key.to_vec(),
            value: value.to_vec(),
            time_received: String::new(),
        }),
        ..pb::Message::default()
    }
}

/// A `GET_VALUE` request for `key`.
pub fn get_value(key: &[u8]) -> pb::Message {
    pb::Message {
        r#type: GET_VALUE,
        key: key.to_vec(),
        ..pb::Message::default()
    }
}

fn invalid(msg: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Reads one framed message, refusing a length prefix over `max` bytes.
pub async fn read_frame(s: &mut Stream, max: usize) -> io::Result<pb::Message> {
    let mut varint = Vec::new();
    loop {
        let mut b = [0u8; 1];
        s.read_exact(&mut b).await?;
        varint.push(b[0]);
        if b[0] & 0x80 == 0 {
            break;
        }
        if varint.len() >= 10 {
            return Err(invalid("length prefix too long"));
        }
    }
    let (len, _) = unsigned_varint::decode::usize(&varint).map_err(invalid)?;
    if len > max {
        return Err(invalid(format!("answer of {len} bytes")));
    }
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).await?;
    pb::Message::decode(&body[..]).map_err(invalid)
}

/// A bare client connected to some nodes; its swarm is driven by its own task.
pub struct RawClient {
    /// Its key.
    pub key: Keypair,
    /// Opens streams.
    pub control: libp2p_stream::Control,
    driver: tokio::task::JoinHandle<()>,
}

impl RawClient {
    /// Dials every address (`/p2p/` addresses on 127.0.0.1) and waits, at most `timeout`,
    /// until each is connected; answers the connected peers in `addrs` order.
    pub async fn connect(
        key: Keypair,
        addrs: &[Multiaddr],
        timeout: Duration,
    ) -> io::Result<(RawClient, Vec<PeerId>)> {
        let mut swarm = libp2p::SwarmBuilder::with_existing_identity(key.clone())
            .with_tokio()
            .with_tcp(
                tcp::Config::default().nodelay(true),
                noise::Config::new,
                yamux::Config::default,
            )
            .map_err(io::Error::other)?
            .with_behaviour(|_| libp2p_stream::Behaviour::new())
            .map_err(|e| io::Error::other(e.to_string()))?
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
            .build();
        let control = swarm.behaviour().new_control();
        let mut ids = Vec::new();
        for a in addrs {
            if !a.to_string().starts_with("/ip4/127.0.0.1/") {
                return Err(io::Error::other(format!("{a}: loopback only")));
            }
            let peer = match a.iter().last() {
                Some(libp2p::multiaddr::Protocol::P2p(p)) => p,
                _ => return Err(io::Error::other(format!("{a}: no /p2p/ peer ID"))),
            };
            ids.push(peer);
            swarm.dial(a.clone()).map_err(io::Error::other)?;
        }
        let wait = async {
            let mut connected = HashSet::new();
            while connected.len() < ids.len() {
                match swarm.select_next_some().await {
                    SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                        connected.insert(peer_id);
                    }
                    SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                        return Err(io::Error::other(format!(
                            "cannot connect to {peer_id:?}: {error}"
                        )));
                    }
                    _ => {}
                }
            }
            Ok(())
        };
        tokio::time::timeout(timeout, wait)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connecting"))??;
        let driver = tokio::spawn(async move {
            loop {
                swarm.select_next_some().await;
            }
        });
        Ok((
            RawClient {
                key,
                control,
                driver,
            },
            ids,
        ))
    }

    /// The client's peer ID.
    pub fn peer(&self) -> PeerId {
        self.key.public().to_peer_id()
    }

    /// Sends `msg` to `peer` on a fresh `protocol` stream and reads its one answer (of at
    /// most `max` bytes), all within `timeout`.
    pub async fn request(
        &self,
        peer: PeerId,
        protocol: StreamProtocol,
        msg: &pb::Message,
        max: usize,
        timeout: Duration,
    ) -> io::Result<pb::Message> {
        use futures::AsyncWriteExt;
        let mut control = self.control.clone();
        let exchange = async {
            let mut s = control
                .open_stream(peer, protocol)
                .await
                .map_err(io::Error::other)?;
            s.write_all(&frame(msg)).await?;
            s.flush().await?;
            read_frame(&mut s, max).await
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no answer in time"))?
    }
}

impl std::fmt::Debug for RawClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawClient")
            .field("peer", &self.peer())
            .finish_non_exhaustive()
    }
}

impl Drop for RawClient {
    fn drop(&mut self) {
        self.driver.abort();
    }
}
