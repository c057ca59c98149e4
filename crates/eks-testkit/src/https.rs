//! An HTTPS front for a plain-HTTP fake: TLS is terminated with a certificate from a fresh
//! test CA, and each connection's bytes are relayed to the fake. It stands in for an endpoint
//! behind a corporate TLS proxy, to prove a client trusts a CA it was given and no other.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::kube::tls::ServerTls;

/// A TLS endpoint on 127.0.0.1 relaying to `upstream`. Stops when dropped.
#[derive(Debug)]
pub struct HttpsFront {
    endpoint: String,
    ca_pem: String,
    accept_loop: JoinHandle<()>,
}

impl HttpsFront {
    /// Listen on an ephemeral loopback port and relay every connection to `upstream`.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<HttpsFront> {
        let tls = ServerTls::generate().map_err(std::io::Error::other)?;
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let endpoint = format!("https://127.0.0.1:{}", listener.local_addr()?.port());
        let acceptor = tls.acceptor();
        let accept_loop = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    // A client that refuses our certificate ends its handshake here: nothing to relay.
                    let Ok(mut tls) = acceptor.accept(socket).await else {
                        return;
                    };
                    let Ok(mut plain) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                });
            }
        });
        Ok(HttpsFront {
            endpoint,
            ca_pem: tls.ca_pem,
            accept_loop,
        })
    }

    /// `https://127.0.0.1:<port>`, the URL to give clients.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// PEM of the CA that signed the front's certificate: what a client must be told to trust.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }
}

impl Drop for HttpsFront {
    fn drop(&mut self) {
        self.accept_loop.abort();
    }
}
