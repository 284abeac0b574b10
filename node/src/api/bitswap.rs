//! `bitswap stat`, `bitswap wantlist [--peer]` and `bitswap ledger <peer>` (Kubo's shapes,
//! plus ipfsd's ledger fields: blocks, exchange times, resets, the debt ratio and the
//! whitepaper's send probability). All need the running network.

use super::{ApiError, ApiState, Args, json};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use libp2p::PeerId;
use serde_json::json;

impl From<bitswap::Error> for ApiError {
    fn from(e: bitswap::Error) -> Self {
        let status = match &e {
            bitswap::Error::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            bitswap::Error::NotFound { .. } => StatusCode::NOT_FOUND,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

fn online(s: &ApiState) -> Result<&bitswap::Bitswap, ApiError> {
    s.node.bitswap().ok_or_else(|| {
        ApiError::bad_request(
            "this command must be run in online mode: the daemon was started with --offline",
        )
    })
}

fn peer_arg(s: &str) -> Result<PeerId, ApiError> {
    s.parse()
        .map_err(|_| ApiError::bad_request(format!("invalid peer ID {s:?}")))
}

fn cid_list(cids: &[dag::Cid]) -> serde_json::Value {
    cids.iter().map(|c| json!({ "/": c.to_string() })).collect()
}

pub(crate) async fn stat(State(s): State<ApiState>) -> Result<Response, ApiError> {
    let st = online(&s)?.stat().await?;
    Ok(json(json!({
        "ProvideBufLen": 0,
        "Wantlist": cid_list(&st.wantlist),
        "Peers": st.peers.iter().map(PeerId::to_string).collect::<Vec<_>>(),
        "BlocksReceived": st.blocks_received,
        "DataReceived": st.data_received,
        "BlocksSent": st.blocks_sent,
        "DataSent": st.data_sent,
        "BlocksWithheld": st.blocks_withheld,
        "DupBlksReceived": st.dup_blks_received,
        "DupDataReceived": st.dup_data_received,
        "MessagesReceived": st.messages_received,
        "MisbehavingPeers": st.misbehaving_peers,
        "LedgerAgreed": st.ledger_agreed,
        "LedgerResets": st.ledger_resets,
        "Sessions": st.sessions,
        "Serving": st.serving,
        "Strategy": s.node.config().bitswap.strategy,
    })))
}

pub(crate) async fn wantlist(State(s): State<ApiState>, args: Args) -> Result<Response, ApiError> {
    let peer = args.get("peer").map(peer_arg).transpose()?;
    let list = online(&s)?.wantlist(peer).await?;
    Ok(json(json!({ "Keys": cid_list(&list) })))
}

pub(crate) async fn ledger(State(s): State<ApiState>, args: Args) -> Result<Response, ApiError> {
    let peer = peer_arg(args.first("arg")?)?;
    let report = online(&s)?.ledger(peer).await?;
    let (l, ratio, p, exchanges) = match report {
        Some(r) => (r.ledger, r.debt_ratio, r.send_probability, r.exchanges),
        None => {
            let l = bitswap::Ledger::default();
            (l, l.debt_ratio(), l.send_probability(), None)
        }
    };
    Ok(json(json!({
        "Peer": peer.to_string(),
        "Value": ratio,
        "Sent": l.bytes_sent,
        "Recv": l.bytes_recv,
        "Exchanged": l.blocks_sent + l.blocks_recv,
        "BlocksSent": l.blocks_sent,
        "BlocksRecv": l.blocks_recv,
        "FirstExchange": l.first_exchange,
        "LastExchange": l.last_exchange,
        "Resets": l.resets,
        "Flagged": l.flagged(),
        "SendProbability": p,
        "LedgerExchange": exchanges,
    })))
}
