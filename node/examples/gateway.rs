//! An app that serves its own content through the IPFS gateway inside its own axum app:
//! the gateway's router is merged beside the app's routes, over an embedded in-memory node.
//!
//! Run with `cargo run -p ipfsd-node --example gateway`: it serves on a free loopback
//! port, fetches its own pages once as a browser would, and stops.

use axum::routing::get;
use node::gateway::{GatewayState, router};
use node::{AddOptions, Node};
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The app's node: in memory, offline (it only serves what it adds).
    let node = Node::builder().in_memory().offline().spawn().await?;
    let page = node
        .add(
            &b"<h1>Hello from the app's own node</h1>\n"[..],
            AddOptions::default(),
        )
        .root()
        .await?
        .cid;

    // The app's routes plus the gateway's (/ipfs/..., /ipns/...).
    let home = format!("<a href=\"/ipfs/{page}\">the page</a>\n");
    let app = axum::Router::new()
        .route("/", get(move || async move { axum::response::Html(home) }))
        .merge(router(GatewayState::for_node(
            &node,
            Duration::from_secs(30),
        )));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    println!("serving on http://{addr}/");

    // Fetch the app's home page and the content it links to, off the runtime.
    let (home, content) = tokio::task::spawn_blocking(move || {
        let get = |path: &str| -> Result<String, ureq::Error> {
            ureq::get(&format!("http://{addr}{path}"))
                .call()?
                .body_mut()
                .read_to_string()
        };
        Ok::<_, ureq::Error>((get("/")?, get(&format!("/ipfs/{page}"))?))
    })
    .await??;
    print!("GET /            -> {home}");
    print!("GET /ipfs/{page} -> {content}");
    server.abort();
    node.shutdown().await;
    Ok(())
}
