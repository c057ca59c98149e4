//! A fake Kubernetes API server over HTTPS that authenticates like an EKS cluster, for pointing
//! a real Kubernetes client (kube-rs, kubectl) at with an endpoint and a CA, exactly as the
//! DescribeCluster answer of EKS tells a client to.
//!
//! It reproduces what a client of an EKS API server has to get right:
//!
//! - TLS with a private CA: at start the fake makes a `CN=kubernetes` CA and a server
//!   certificate signed by it for `127.0.0.1`, `localhost`, `kubernetes` and
//!   `kubernetes.default.svc`; [`FakeKube::ca_pem`] is what EKS returns base64-encoded as
//!   `certificateAuthority.data`, so a client that does not trust it fails the handshake;
//! - bearer-token authentication on every request, checked by a pluggable [`TokenVerifier`]
//!   (the EKS token checker [`Authenticator`](crate::authenticator::Authenticator), or
//!   [`StaticTokens`]); a missing or rejected token, or one the test told the fake to reject
//!   with [`FakeKube::reject_next`] (an expired token, to the client), gets a 401 `Status`
//!   with reason `Unauthorized`;
//! - discovery as kubectl and kube-rs walk it: `/version`, `/api`, `/apis`, `/api/v1`;
//! - namespaces (`default`, `kube-system`, `kube-public`, `kube-node-lease` exist) and pods the
//!   test seeds, listed with `labelSelector` (`a=b`, `a==b`, `a!=b`, `a`, `!a`), `limit` and
//!   `continue`, and read one by one; lists and reads answer a `meta.k8s.io/v1` `Table` when
//!   the client asks for one (`kubectl get` does), otherwise the object or `...List`;
//! - errors as Kubernetes `Status` objects: 404 `NotFound` for missing objects and unknown
//!   paths, 405 `MethodNotAllowed` for a method the fake does not serve on a known path,
//!   400 `BadRequest` for selectors or query parameters it cannot honour, so a gap shows
//!   plainly instead of as a wrong answer.
//!
//! Every request is recorded with its authentication outcome, for tests to assert on. It
//! speaks HTTP/1.1 only (ALPN `http/1.1`), which both kubectl and kube-rs use.

mod api;
mod discovery;
mod query;
mod server;
mod state;
mod table;
mod tls;
pub(crate) mod wire;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use tokio::task::JoinHandle;

use state::State;

pub use tls::TlsSetupError;

/// Decides whether a bearer token is good, like the authenticator of an EKS API server.
pub trait TokenVerifier: Send + Sync + 'static {
    /// The user name the token authenticates as, or why it is rejected (sent to the client
    /// in the 401 `Status` message and recorded).
    fn verify(&self, token: &str) -> Result<String, String>;
}

/// Any `Fn(&str) -> Result<user, reason>` is a verifier, for one-off tests.
impl<F> TokenVerifier for F
where
    F: Fn(&str) -> Result<String, String> + Send + Sync + 'static,
{
    fn verify(&self, token: &str) -> Result<String, String> {
        self(token)
    }
}

/// The fake EKS token checker: a token authenticates as the IAM ARN that signed it, the
/// identity aws-iam-authenticator hands on before mapping it to a Kubernetes user.
impl TokenVerifier for crate::authenticator::Authenticator {
    fn verify(&self, token: &str) -> Result<String, String> {
        crate::authenticator::Authenticator::verify(self, token)
            .map(|identity| identity.arn)
            .map_err(|rejection| rejection.to_string())
    }
}

/// A verifier that accepts a fixed set of tokens, each for a user, until the test revokes
/// one (a token that expired, from the server's point of view).
#[derive(Debug, Default)]
pub struct StaticTokens {
    tokens: Mutex<Tokens>,
}

#[derive(Debug, Default)]
struct Tokens {
    users: HashMap<String, String>,
    revoked: HashSet<String>,
}

impl StaticTokens {
    /// Accepts each `(token, user)` pair given.
    pub fn new<T, U>(tokens: impl IntoIterator<Item = (T, U)>) -> Self
    where
        T: Into<String>,
        U: Into<String>,
    {
        let accepted = Self::default();
        for (token, user) in tokens {
            accepted.allow(token, user);
        }
        accepted
    }

    /// Accepts `token` as `user` from now on, even if it was revoked.
    pub fn allow(&self, token: impl Into<String>, user: impl Into<String>) {
        let token = token.into();
        let mut tokens = self.tokens();
        tokens.revoked.remove(&token);
        tokens.users.insert(token, user.into());
    }

    /// Rejects `token` as expired from now on.
    pub fn revoke(&self, token: &str) {
        self.tokens().revoked.insert(token.to_owned());
    }

    fn tokens(&self) -> MutexGuard<'_, Tokens> {
        self.tokens.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl TokenVerifier for StaticTokens {
    fn verify(&self, token: &str) -> Result<String, String> {
        let tokens = self.tokens();
        if tokens.revoked.contains(token) {
            return Err("token has expired".to_owned());
        }
        tokens
            .users
            .get(token)
            .cloned()
            .ok_or_else(|| "token is not recognised".to_owned())
    }
}

/// One request the fake received and what it answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KubeCall {
    /// HTTP method, e.g. `GET`.
    pub method: String,
    /// Request path as sent (still URL-encoded), without the query.
    pub path: String,
    /// Query string as sent, e.g. `labelSelector=app%3Dweb&limit=500`.
    pub query: Option<String>,
    /// Whether the request passed authentication (and was then routed).
    pub authenticated: bool,
    /// The user the token authenticated as, when it did.
    pub user: Option<String>,
    /// Why authentication failed, when it did: no token, the verifier's reason, or an
    /// injected rejection.
    pub rejection: Option<String>,
    /// HTTP status answered.
    pub status: u16,
    /// When the request arrived.
    pub at: Instant,
}

impl KubeCall {
    /// Path and query as a client wrote them, e.g. `/api/v1/namespaces/default/pods?limit=500`.
    pub fn path_and_query(&self) -> String {
        match &self.query {
            Some(query) => format!("{}?{query}", self.path),
            None => self.path.clone(),
        }
    }
}

/// A running fake Kubernetes API server; stops, closing every connection, when dropped.
pub struct FakeKube {
    endpoint: String,
    ca_pem: String,
    state: Arc<Mutex<State>>,
    accept_loop: JoinHandle<()>,
}

impl fmt::Debug for FakeKube {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeKube")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl FakeKube {
    /// Starts a fake on a free port of 127.0.0.1, authenticating with `verifier`.
    pub async fn start(verifier: Arc<dyn TokenVerifier>) -> std::io::Result<FakeKube> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        Self::serve(listener, verifier)
    }

    /// Starts a fake on `listener`, e.g. a port chosen by `cargo xtask fake`; it must accept
    /// connections to 127.0.0.1 (bound there or to `0.0.0.0`).
    pub async fn start_on(
        listener: std::net::TcpListener,
        verifier: Arc<dyn TokenVerifier>,
    ) -> std::io::Result<FakeKube> {
        // Tokio requires a non-blocking socket; a listener from std is blocking by default.
        listener.set_nonblocking(true)?;
        Self::serve(tokio::net::TcpListener::from_std(listener)?, verifier)
    }

    fn serve(
        listener: tokio::net::TcpListener,
        verifier: Arc<dyn TokenVerifier>,
    ) -> std::io::Result<FakeKube> {
        // The certificate covers 127.0.0.1, whichever address the listener is bound to.
        let address = format!("127.0.0.1:{}", listener.local_addr()?.port());
        let tls = tls::ServerTls::generate().map_err(std::io::Error::other)?;
        let state = Arc::new(Mutex::new(State::new(address.clone())));
        let accept_loop = tokio::spawn(server::accept_loop(
            listener,
            tls.acceptor(),
            Arc::clone(&state),
            verifier,
        ));
        Ok(FakeKube {
            endpoint: format!("https://{address}"),
            ca_pem: tls.ca_pem,
            state,
            accept_loop,
        })
    }

    /// Base URL to give clients as the cluster endpoint, e.g. `https://127.0.0.1:41234`.
    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    /// PEM of the CA that signed the server certificate: what a kubeconfig's
    /// `certificate-authority-data` holds, base64-encoded.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Answers the next `n` requests that carry a good token with 401, as an API server
    /// does once a token has expired, after rejections injected earlier.
    pub fn reject_next(&self, n: usize) {
        self.state().pending_rejections += n;
    }

    /// Creates namespace `name` (`Active`) if it does not exist.
    pub fn seed_namespace(&self, name: &str) {
        self.state().seed_namespace(name);
    }

    /// Stores `pod` in `namespace` (created if missing), replacing a pod of the same name,
    /// and fills in what the API server sets: `kind`, `apiVersion`, `metadata.namespace`,
    /// `uid`, `resourceVersion`, `creationTimestamp` (unless given) and `status.phase`
    /// `Pending` (unless given). A `metadata.generateName` without a name gets a suffix.
    ///
    /// # Panics
    ///
    /// If `pod` is not an object with `metadata.name` or `metadata.generateName`: a seed that
    /// the API server would refuse is a mistake in the test.
    pub fn seed_pod(&self, namespace: &str, pod: serde_json::Value) {
        if let Err(mistake) = self.state().seed_pod(namespace, pod) {
            panic!("FakeKube::seed_pod: {mistake}");
        }
    }

    /// Every request received so far, in order, including rejected and unknown ones.
    pub fn requests(&self) -> Vec<KubeCall> {
        self.state().calls.clone()
    }

    /// How many requests were answered 401 Unauthorized.
    pub fn unauthorized_count(&self) -> usize {
        self.state()
            .calls
            .iter()
            .filter(|call| call.status == 401)
            .count()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

impl Drop for FakeKube {
    fn drop(&mut self) {
        // The accept loop owns every connection task, so aborting it closes them all.
        self.accept_loop.abort();
    }
}

/// A panic while holding the lock cannot leave the state half-updated in a way that matters
/// to a test fake, so a poisoned lock is used as is.
fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}
