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
//! - namespaces (`default`, `kube-system`, `kube-public`, `kube-node-lease` exist) and pods,
//!   listed with `labelSelector` (`a=b`, `a==b`, `a!=b`, `a`, `!a`),
//!   `fieldSelector=metadata.name=NAME`, `limit` and `continue` (the list's `resourceVersion`
//!   is the latest write), and read one by one; lists and reads answer a `meta.k8s.io/v1`
//!   `Table` when the client asks for one (`kubectl get` does), otherwise the object or
//!   `...List`;
//! - errors as Kubernetes `Status` objects: 404 `NotFound` for missing objects and unknown
//!   paths, 405 `MethodNotAllowed` for a method the fake does not serve on a known path,
//!   400 `BadRequest` for selectors or query parameters it cannot honour, so a gap shows
//!   plainly instead of as a wrong answer.
//!
//! # A control plane for a pod operator
//!
//! Pods can also be created, run, watched and deleted as a pod operator (Airflow's
//! `KubernetesPodOperator`) drives them, with Kubernetes' JSON shapes and semantics:
//!
//! - `POST /api/v1/namespaces/{ns}/pods` answers 201 with what the API server sets (`uid`,
//!   `resourceVersion` from one global counter, `creationTimestamp`, spec defaults,
//!   `status.phase: Pending`; `generateName` gets a five-character suffix), 409
//!   `AlreadyExists` for a taken name, 422 `Invalid` (with `details.causes`) for a pod name
//!   that is not a DNS-1123 subdomain, no containers, a container without a name or image, a
//!   container name that is not a DNS-1123 label, or duplicate container names, and 404 when
//!   the namespace does not exist;
//! - `DELETE /api/v1/namespaces/{ns}/pods/{name}` honours `gracePeriodSeconds` (query, or a
//!   `DeleteOptions` body, which wins) and otherwise the pod's
//!   `terminationGracePeriodSeconds`: it sets `deletionTimestamp` and
//!   `deletionGracePeriodSeconds` and answers 200 with the pod; the containers still running
//!   when the grace period ends are killed (exit 137, reason `Error`, event `Killing` at the
//!   request) and the pod disappears; it disappears at once with grace 0, or when nothing runs
//!   (never scheduled, finished, or seeded);
//! - a simulated kubelet runs each created pod: scheduling (a `nodeSelector` with the key
//!   `eks-fake/unschedulable` is never satisfied: `PodScheduled=False`, reason
//!   `Unschedulable`, event `FailedScheduling`), image pulls (an image whose name contains
//!   `does-not-exist` fails: waiting `ErrImagePull` then `ImagePullBackOff`, events `Failed`
//!   and `BackOff`), then all containers start (`Running`, events `Scheduled`, `Pulling`,
//!   `Pulled`, `Created`, `Started`) and run their command (below); the pod stays `Running`
//!   while any container runs (so a pod with KPO's xcom sidecar ends only once the sidecar
//!   is stopped); a container's exit gives
//!   a `terminated` state with `exitCode`, `reason` (`Completed`/`Error`), `message` (what
//!   it wrote to `/dev/termination-log`), `startedAt` and `finishedAt`; the pod ends
//!   `Succeeded` when every container exited 0, else `Failed` (containers are never
//!   restarted, whatever `restartPolicy` says); `activeDeadlineSeconds` fails it with reason
//!   `DeadlineExceeded`;
//! - events: `GET /api/v1/namespaces/{ns}/events`, with `fieldSelector=involvedObject.name=X`;
//! - logs: `GET .../pods/{name}/log` with `container`, `follow`, `timestamps` (RFC 3339 with
//!   nanoseconds, strictly increasing per container), `sinceTime` (lines at or after it),
//!   `sinceSeconds`, `tailLines`, `limitBytes` and `previous` (always 400: nothing restarts),
//!   as chunked `text/plain`; a followed stream ends once the container has terminated and
//!   its last lines are sent; 400 `BadRequest` while the container is waiting
//!   (`container "x" in pod "y" is waiting to start: ContainerCreating`) and when a pod with
//!   several containers is asked without `container`;
//! - exec: `GET|POST .../pods/{name}/exec?command=...&command=...&container=C&stdout=true&
//!   stderr=true` as a WebSocket upgrade (RFC 6455: `Connection: Upgrade`, `Upgrade:
//!   websocket`, `Sec-WebSocket-Key`, and a `Sec-WebSocket-Protocol` offer of which the fake
//!   picks `v4.channel.k8s.io`, else `channel.k8s.io`), answered `101 Switching Protocols`
//!   with `Sec-WebSocket-Accept` and the protocol chosen; the command (below) runs in the
//!   container's sandbox, and its output comes as unmasked binary frames whose first byte is
//!   the channel: an empty frame on each open channel first, then 1 stdout and 2 stderr as
//!   written, then on 3 the exit status (v4: `{"metadata":{},"status":"Success"}`, or
//!   `"Failure"` with reason `NonZeroExitCode` and `details.causes[0]` `{"reason":
//!   "ExitCode", "message": "N"}`; `channel.k8s.io`: the message as text, nothing on
//!   success), then a close frame (1000) and the end of the connection; what the client
//!   sends is read and ignored. Before upgrading: 401 as for any request, 404 for a missing
//!   pod or container, 400 for a completed pod (`cannot exec into a container in a completed
//!   pod; current phase is Succeeded`), a container that is not running (`container not
//!   found ("x")`), no command, `stdin`/`tty` (not supported), or a request that is not a
//!   WebSocket upgrade. An exec runs what a container runs (the subset below; a bare
//!   command outside it is `sh: CMD: not found` on stderr, exit 127), so `cat FILE` reads
//!   the pod's files and `kill -s SIGINT 1` signals the container's script: this is how
//!   `KubernetesPodOperator` reads `/airflow/xcom/return.json` through its
//!   `airflow-xcom-sidecar` and then stops it;
//! - watch: `GET .../pods?watch=true` with `resourceVersion`, `labelSelector`,
//!   `fieldSelector=metadata.name=X`, `allowWatchBookmarks` and `timeoutSeconds` streams
//!   `{"type": "ADDED|MODIFIED|DELETED|BOOKMARK", "object": ...}` lines for every change
//!   after the version, from a history of the last 1000 pod changes; an older version gets
//!   (as from the API server's watch cache) a 200 whose only event is `ERROR` with a `410
//!   Expired` `Status`;
//! - faults: [`FakeKube::reject_next`], [`FakeKube::inject_server_errors`],
//!   [`FakeKube::set_latency`], [`FakeKube::drop_log_streams_after`],
//!   [`FakeKube::drop_watch_streams`], [`FakeKube::compact_history`].
//!
//! Every simulated duration (script `sleep`s, grace periods, deadlines, scheduling and image
//! pulls of about 0.05 s each) is multiplied by [`FakeKubeConfig::time_scale`], so a test can
//! run a `sleep 30` pod in 0.3 s; the timestamps the fake writes are real times.
//!
//! ## The container command subset (the contract)
//!
//! Containers do not run images: the fake reads `command` + `args` and interprets a small
//! subset of `sh`. The subset is the contract: a pod used in tests must run the same on a
//! real cluster (with a `busybox`-like image), so it is plain POSIX `sh`. A container runs
//! `sh -c SCRIPT` (also `/bin/sh`, `bash`, `/bin/bash`, and any flag word containing `c`,
//! such as `-cx`), or a plain `echo ...` / `sleep N` (and the other commands below) as
//! `command`/`args`; no command at all exits 0 at once. SCRIPT is statements separated by
//! `;` or newlines (`#` starts a comment), among:
//!
//! - `echo [-n] WORDS` (no backslash escapes), `printf FORMAT [ARGS]` (`%s`, `%d`, `%%`,
//!   `\n`, `\t`, `\\`; the format repeats while arguments remain), either optionally
//!   redirected with `> FILE` or `>> FILE`;
//! - `sleep N` (decimal seconds), `exit [N]`, `true`, `:`;
//! - `cat FILE` (exit 1 with `cat: can't open 'FILE': No such file or directory` on stderr,
//!   as busybox words it, if missing), `touch FILE`, `test -f FILE` / `[ -f FILE ]` (status 0
//!   or 1);
//! - `trap "exit N" SIGNALS` (also single-quoted, `exit` alone for 0; signals `INT`, `TERM`,
//!   with or without `SIG`, or `2`, `15`): from then on the signal makes the script exit
//!   with `N`; a signal without a trap ends it with 128 + its number (130 for SIGINT);
//! - `kill -s SIGNAL 1` (also `kill -SIGNAL 1`, `kill -N 1`, same signals): signals the
//!   container's script (its first process), as an exec does to stop a sidecar;
//! - `for VAR in $(seq A B); do ...; done` or `for VAR in WORDS; do ...; done`, with `$VAR`
//!   or `${VAR}` in the body;
//! - `until [ -f FILE ]; do ...; done` (also `until test -f FILE`);
//! - `while true; do ...; done` (also `while :`), left only by `exit`, a signal, or the pod's
//!   end; KPO's sidecar is `trap "exit 0" INT; while true; do sleep 1; done;`;
//! - `yes [WORDS] | head -n N` (the only pipeline): N lines of the words (`y` without any),
//!   written at once and kept as one run of lines a nanosecond apart, so a pod can print
//!   gigabytes (a log benchmark) without the fake storing them; a log request renders them
//!   as it sends them, in chunks of about 128 KiB.
//!
//! Words may be quoted with `'...'` or `"..."` (with `$VAR` inside double quotes). Files are
//! one filesystem shared by the pod's containers (as if every path were on an `emptyDir`
//! mounted into each, e.g. `/airflow/xcom/return.json` written by the main container and read
//! by the xcom sidecar with `cat`), except `/dev/termination-log`, which is per container.
//! Anything else (other pipes, `&&`, other commands, command substitution other than `seq`) makes
//! the container write `eks-fake: unsupported statement ...` to its log and exit 127 before
//! running any statement. Standard output and error both go to the container's log (and to
//! channels 1 and 2 of an exec). Signals act at once, even mid-`sleep` (a real `sh` runs its
//! trap once the foreground `sleep` ends).
//!
//! Every request is recorded with its authentication outcome, for tests to assert on. It
//! speaks HTTP/1.1 only (ALPN `http/1.1`), which both kubectl and kube-rs use.

mod api;
mod discovery;
mod exec;
mod kubelet;
mod logs;
mod pods;
mod query;
mod script;
mod server;
mod state;
mod table;
pub(crate) mod tls;
mod watch;
pub(crate) mod wire;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

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

/// How a fake runs, beyond authentication.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FakeKubeConfig {
    /// Multiplies every simulated duration (`sleep` in scripts, grace periods,
    /// `activeDeadlineSeconds`, scheduling and image pulls): `0.01` runs a `sleep 30` pod in
    /// 0.3 s. Timestamps the fake writes are real times.
    pub time_scale: f64,
}

impl Default for FakeKubeConfig {
    fn default() -> Self {
        Self { time_scale: 1.0 }
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
        Self::start_with(verifier, FakeKubeConfig::default()).await
    }

    /// Starts a fake on a free port of 127.0.0.1 that runs as `config` says.
    pub async fn start_with(
        verifier: Arc<dyn TokenVerifier>,
        config: FakeKubeConfig,
    ) -> std::io::Result<FakeKube> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        Self::serve(listener, verifier, config)
    }

    /// Starts a fake on `listener`, e.g. a port chosen by `cargo xtask fake`; it must accept
    /// connections to 127.0.0.1 (bound there or to `0.0.0.0`).
    pub async fn start_on(
        listener: std::net::TcpListener,
        verifier: Arc<dyn TokenVerifier>,
    ) -> std::io::Result<FakeKube> {
        // Tokio requires a non-blocking socket; a listener from std is blocking by default.
        listener.set_nonblocking(true)?;
        Self::serve(
            tokio::net::TcpListener::from_std(listener)?,
            verifier,
            FakeKubeConfig::default(),
        )
    }

    fn serve(
        listener: tokio::net::TcpListener,
        verifier: Arc<dyn TokenVerifier>,
        config: FakeKubeConfig,
    ) -> std::io::Result<FakeKube> {
        // The certificate covers 127.0.0.1, whichever address the listener is bound to.
        let address = format!("127.0.0.1:{}", listener.local_addr()?.port());
        let tls = tls::ServerTls::generate().map_err(std::io::Error::other)?;
        let state = Arc::new_cyclic(|myself| {
            Mutex::new(State::with_config(address.clone(), config, myself.clone()))
        });
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

    /// Answers the next `n` requests that carry a good token with a server error instead of
    /// serving them: 500 `InternalError` and 503 `ServiceUnavailable` alternate, starting
    /// with 500.
    pub fn inject_server_errors(&self, n: usize) {
        self.state().queue_server_errors(n);
    }

    /// Delays every request by `latency` before it is answered (zero to stop).
    pub fn set_latency(&self, latency: Duration) {
        self.state().latency = latency;
    }

    /// Cuts each of the next `times` followed log streams (`follow=true`) after `lines`
    /// lines: the connection closes without the terminating chunk, as when an API server
    /// or load balancer drops a long request.
    pub fn drop_log_streams_after(&self, lines: usize, times: usize) {
        self.state().log_stream_cuts = (lines, times);
    }

    /// Cuts each of the next `times` pod watches once it has sent the events that were
    /// already due when it started (connection closed without the terminating chunk).
    pub fn drop_watch_streams(&self, times: usize) {
        self.state().watch_drops += times;
    }

    /// Forgets the pod change history, as etcd compaction does: a watch from a
    /// `resourceVersion` before now then gets `410 Expired`.
    pub fn compact_history(&self) {
        self.state().compact();
    }

    /// The `resourceVersion` of the latest write.
    pub fn resource_version(&self) -> u64 {
        self.state().current_resource_version()
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

    /// The pods of `namespace` as the API server holds them now (what a list would return).
    pub fn pods(&self, namespace: &str) -> Vec<serde_json::Value> {
        let prefix = format!("{namespace}/");
        self.state()
            .pods
            .iter()
            .filter(|(key, _)| key.starts_with(&prefix))
            .map(|(_, pod)| pod.clone())
            .collect()
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
