//! A stateful fake of the Amazon EKS REST-JSON API, served over HTTP by wiremock, for pointing
//! the real `aws-sdk-eks` client (or boto3) at with an endpoint URL.
//!
//! It implements Create/Describe/List/Delete for clusters, managed nodegroups and Fargate
//! profiles with the wire shapes EKS uses (camelCase JSON, epoch-second timestamps, the
//! `x-amzn-errortype` header and a `{"message", "clusterName", ...}` error body), and it
//! reproduces the EKS behaviour an operator has to cope with:
//!
//! - lifecycles: resources start `CREATING` and become `ACTIVE` after a configurable time, or
//!   `FAILED` (cluster) / `CREATE_FAILED` when the test marks them; delete moves them to
//!   `DELETING`, then they disappear, or end `DELETE_FAILED` when marked. Transitions are
//!   evaluated lazily from timestamps on every request, so there is no background task;
//! - a cluster reports `endpoint` and `certificateAuthority` only once it has been `ACTIVE`;
//! - `ResourceNotFoundException` (404) for missing resources, `ResourceInUseException` (409)
//!   for duplicate names, deleting a cluster that still has nodegroups or Fargate profiles,
//!   deleting anything `CREATING` or already `DELETING`, and creating or deleting a Fargate
//!   profile while another profile of the cluster is `CREATING` or `DELETING`;
//!   `InvalidRequestException` (400) for a nodegroup or profile on a cluster that is not
//!   `ACTIVE`; `InvalidParameterException` (400) for missing or malformed fields, names that
//!   break EKS's naming rules, bad `maxResults` or `nextToken`, and malformed JSON;
//! - pagination with `maxResults` (1 to 100, default 100) and an opaque `nextToken`;
//! - injected faults (throttling 429, 500, 503) consumed in FIFO order, and added latency;
//! - any other path answers 404 `UnknownOperationException`, so a test sees a gap plainly.
//!
//! Every request is recorded, faulted or not, for tests to assert on.

mod model;
mod operations;
mod wire;

use std::net::TcpListener;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use wiremock::matchers::any;
use wiremock::{Mock, MockServer, MockServerBuilder, Request, Respond, ResponseTemplate};

use model::{Clock, FailureMark, State};
use operations::Route;
use wire::ApiError;

/// How the fake behaves: where it claims to live, how long lifecycles take, and what a
/// cluster reports as its endpoint and CA.
#[derive(Clone, Debug)]
pub struct FakeEksConfig {
    /// Region in ARNs, endpoints and the OIDC issuer.
    pub region: String,
    /// Account id in ARNs.
    pub account_id: String,
    /// Time from `CREATING` to `ACTIVE` (or `FAILED`) for a cluster.
    pub cluster_create_time: Duration,
    /// Time from `DELETING` to gone for a cluster.
    pub cluster_delete_time: Duration,
    /// Time from `CREATING` to `ACTIVE` (or `CREATE_FAILED`) for a nodegroup.
    pub nodegroup_create_time: Duration,
    /// Time from `DELETING` to gone (or `DELETE_FAILED`) for a nodegroup.
    pub nodegroup_delete_time: Duration,
    /// Time from `CREATING` to `ACTIVE` (or `CREATE_FAILED`) for a Fargate profile.
    pub fargate_create_time: Duration,
    /// Time from `DELETING` to gone (or `DELETE_FAILED`) for a Fargate profile.
    pub fargate_delete_time: Duration,
    /// Delay added to every response; change it later with [`FakeEks::set_latency`].
    pub latency: Duration,
    /// Endpoint every cluster reports once `ACTIVE`, e.g. a fake Kubernetes API; by default
    /// a unique `https://<32 hex>.gr7.<region>.eks.amazonaws.com`.
    pub cluster_endpoint: Option<String>,
    /// PEM of the CA every cluster reports (base64-encoded, as EKS does); by default a
    /// self-signed `CN=kubernetes` CA shipped with this crate.
    pub cluster_ca_pem: Option<String>,
}

impl Default for FakeEksConfig {
    fn default() -> Self {
        Self {
            region: "us-east-1".to_owned(),
            account_id: "123456789012".to_owned(),
            cluster_create_time: Duration::from_millis(300),
            cluster_delete_time: Duration::from_millis(200),
            nodegroup_create_time: Duration::from_millis(200),
            nodegroup_delete_time: Duration::from_millis(200),
            fargate_create_time: Duration::from_millis(200),
            fargate_delete_time: Duration::from_millis(200),
            latency: Duration::ZERO,
            cluster_endpoint: None,
            cluster_ca_pem: None,
        }
    }
}

/// A fault the fake answers the next requests with, instead of handling them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// HTTP 429 `ThrottlingException` "Rate exceeded".
    Throttle,
    /// HTTP 500 `ServerException`.
    ServerError,
    /// HTTP 503 `ServiceUnavailableException`.
    Unavailable,
}

impl Fault {
    fn error(self) -> ApiError {
        match self {
            Self::Throttle => ApiError::throttling(),
            Self::ServerError => ApiError::server(),
            Self::Unavailable => ApiError::unavailable(),
        }
    }
}

/// One request the fake received and what it answered.
#[derive(Clone, Debug)]
pub struct RecordedCall {
    /// HTTP method, e.g. `POST`.
    pub method: String,
    /// Request path as sent (still URL-encoded), without the query.
    pub path: String,
    /// Query string as sent, e.g. `maxResults=2&nextToken=...`.
    pub query: Option<String>,
    /// EKS operation name, e.g. `DescribeCluster`, or `Unknown`.
    pub operation: String,
    /// The request body when it was JSON.
    pub body: Option<serde_json::Value>,
    /// HTTP status answered.
    pub status: u16,
    /// When the request arrived.
    pub at: Instant,
    /// The access key id of the SigV4 `Authorization` header: whose credentials signed it.
    pub access_key_id: Option<String>,
}

/// `AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/eks/aws4_request, ...` → `AKID`.
fn signing_access_key(request: &Request) -> Option<String> {
    let header = request.headers.get("authorization")?.to_str().ok()?;
    let credential = header.split("Credential=").nth(1)?;
    credential.split('/').next().map(str::to_owned)
}

/// A running fake EKS API; stops when dropped.
#[derive(Debug)]
pub struct FakeEks {
    server: MockServer,
    state: Arc<Mutex<State>>,
    config: FakeEksConfig,
}

impl FakeEks {
    /// Starts a fake with the default configuration on a free local port.
    pub async fn start() -> Self {
        Self::start_with(FakeEksConfig::default()).await
    }

    /// Starts a fake with `config` on a free local port.
    pub async fn start_with(config: FakeEksConfig) -> Self {
        Self::serve(MockServer::builder(), config).await
    }

    /// Starts a fake with `config` on `listener`, e.g. a port chosen by `cargo xtask fake`.
    pub async fn start_on(listener: TcpListener, config: FakeEksConfig) -> Self {
        Self::serve(MockServer::builder().listener(listener), config).await
    }

    async fn serve(builder: MockServerBuilder, config: FakeEksConfig) -> Self {
        // The fake keeps its own record of calls; wiremock's would grow without bound.
        let server = builder.disable_request_recording().start().await;
        let state = Arc::new(Mutex::new(State::new(config.clone())));
        Mock::given(any())
            .respond_with(EksResponder {
                state: Arc::clone(&state),
            })
            .named("fake EKS API")
            .mount(&server)
            .await;
        Self {
            server,
            state,
            config,
        }
    }

    /// Base URL to give clients as their endpoint, e.g. `http://127.0.0.1:41234`.
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// The socket address the fake listens on, for a front such as [`crate::HttpsFront`].
    pub fn address(&self) -> std::net::SocketAddr {
        *self.server.address()
    }

    /// The configuration the fake started with (latency as set at start).
    pub fn config(&self) -> &FakeEksConfig {
        &self.config
    }

    /// Answers the next `times` requests with `fault`, after faults injected earlier.
    pub fn inject(&self, fault: Fault, times: usize) {
        self.state().push_fault(fault, times);
    }

    /// Delays every response from now on by `latency`.
    pub fn set_latency(&self, latency: Duration) {
        self.state().latency = latency;
    }

    /// The cluster `name` ends `FAILED` instead of `ACTIVE`: the one being created now, or
    /// else the next one created with that name.
    pub fn fail_cluster(&self, name: &str) {
        self.state()
            .mark_failure(FailureMark::ClusterCreate, name, "");
    }

    /// The nodegroup ends `CREATE_FAILED` instead of `ACTIVE` (now or at its next creation).
    pub fn fail_nodegroup(&self, cluster: &str, nodegroup: &str) {
        self.state()
            .mark_failure(FailureMark::NodegroupCreate, cluster, nodegroup);
    }

    /// The nodegroup's next deletion ends `DELETE_FAILED`; deleting it again then succeeds.
    pub fn fail_nodegroup_delete(&self, cluster: &str, nodegroup: &str) {
        self.state()
            .mark_failure(FailureMark::NodegroupDelete, cluster, nodegroup);
    }

    /// The Fargate profile ends `CREATE_FAILED` instead of `ACTIVE` (now or at its next
    /// creation).
    pub fn fail_fargate_profile(&self, cluster: &str, profile: &str) {
        self.state()
            .mark_failure(FailureMark::FargateCreate, cluster, profile);
    }

    /// The Fargate profile's next deletion ends `DELETE_FAILED`; deleting it again succeeds.
    pub fn fail_fargate_profile_delete(&self, cluster: &str, profile: &str) {
        self.state()
            .mark_failure(FailureMark::FargateDelete, cluster, profile);
    }

    /// Puts a cluster straight into `status` (e.g. `"ACTIVE"`) with realistic defaults; a
    /// transitional status (`CREATING`, `DELETING`) then advances as usual. An existing
    /// cluster of that name only changes status.
    pub fn seed_cluster(&self, name: &str, status: &str) {
        self.state().seed_cluster(name, status);
    }

    /// Puts a nodegroup straight into `status`, seeding its cluster `ACTIVE` if missing.
    pub fn seed_nodegroup(&self, cluster: &str, name: &str, status: &str) {
        self.state().seed_nodegroup(cluster, name, status);
    }

    /// Puts a Fargate profile straight into `status`, seeding its cluster `ACTIVE` if missing.
    pub fn seed_fargate_profile(&self, cluster: &str, name: &str, status: &str) {
        self.state().seed_fargate_profile(cluster, name, status);
    }

    /// The cluster's status now, or `None` once it is gone.
    pub fn cluster_status(&self, name: &str) -> Option<String> {
        let state = self.settled_state();
        state.clusters.get(name).map(|c| c.life.status.clone())
    }

    /// The nodegroup's status now, or `None` once it (or its cluster) is gone.
    pub fn nodegroup_status(&self, cluster: &str, name: &str) -> Option<String> {
        let state = self.settled_state();
        let nodegroup = state.clusters.get(cluster)?.nodegroups.get(name)?;
        Some(nodegroup.life.status.clone())
    }

    /// The Fargate profile's status now, or `None` once it (or its cluster) is gone.
    pub fn fargate_profile_status(&self, cluster: &str, name: &str) -> Option<String> {
        let state = self.settled_state();
        let profile = state.clusters.get(cluster)?.fargate_profiles.get(name)?;
        Some(profile.life.status.clone())
    }

    /// Every request received so far, in order, including faulted and unknown ones.
    pub fn requests(&self) -> Vec<RecordedCall> {
        self.state().calls.clone()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    fn settled_state(&self) -> MutexGuard<'_, State> {
        let mut state = self.state();
        state.settle(Instant::now());
        state
    }
}

/// A panic while holding the lock cannot leave the state half-updated in a way that matters
/// to a test fake, so a poisoned lock is used as is.
fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The single wiremock responder: routes every request to the fake's state.
#[derive(Debug)]
struct EksResponder {
    state: Arc<Mutex<State>>,
}

impl Respond for EksResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let clock = Clock::now();
        let method = request.method.as_str();
        let path = request.url.path();
        let route = Route::parse(method, path);
        let query: Vec<(String, String)> = request
            .url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();

        let mut state = lock(&self.state);
        let outcome = match state.take_fault() {
            Some(fault) => Err(fault.error()),
            None => {
                state.settle(clock.instant);
                state.handle(&route, &query, &request.body, clock)
            }
        };
        let (status, body) = match &outcome {
            Ok(body) => (200, body.clone()),
            Err(error) => (error.status, error.body()),
        };
        state.calls.push(RecordedCall {
            method: method.to_owned(),
            path: path.to_owned(),
            query: request.url.query().map(str::to_owned),
            operation: route.operation().to_owned(),
            body: serde_json::from_slice(&request.body).ok(),
            status,
            at: clock.instant,
            access_key_id: signing_access_key(request),
        });
        let request_id = state.ids.uuid();
        let latency = state.latency;
        drop(state);

        let mut response = ResponseTemplate::new(status)
            .insert_header("x-amzn-requestid", request_id.as_str())
            .set_body_raw(body.to_string().into_bytes(), "application/json");
        if let Err(error) = &outcome {
            response = response.insert_header("x-amzn-errortype", error.code);
        }
        if !latency.is_zero() {
            response = response.set_delay(latency);
        }
        response
    }
}
