//! Drives the fake Kubernetes API server with a real HTTPS client (hyper over tokio-rustls)
//! that trusts only the fake's CA, as a kubeconfig built from DescribeCluster would.

use std::sync::Arc;

use aws_sdk_eks::config::Credentials;
use eks_core::token::{TokenRequest, presign};
use eks_testkit::authenticator::{Authenticator, AuthenticatorConfig};
use eks_testkit::{FakeKube, StaticTokens};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{CertificateError, ClientConfig, RootCertStore};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::support::eventually;

pub(crate) const GOOD_TOKEN: &str = "k8s-aws-v1.good";
const USER: &str = "arn:aws:iam::123456789012:role/airflow";

/// What `kubectl get` sends: a server-side printed table if the server can, else JSON.
const KUBECTL_ACCEPT: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,\
                              application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

pub(crate) fn tokens() -> Arc<StaticTokens> {
    Arc::new(StaticTokens::new([(GOOD_TOKEN, USER)]))
}

async fn start() -> FakeKube {
    FakeKube::start(tokens()).await.unwrap()
}

/// A TLS client trusting exactly the CAs in `pem` (none if empty), on the same provider.
pub(crate) fn connector(pem: &str) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    for certificate in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        roots.add(certificate.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

pub(crate) fn address(fake: &FakeKube) -> String {
    fake.endpoint().strip_prefix("https://").unwrap().to_owned()
}

/// Opens an HTTPS connection to `fake` as `server_name`; the error is the TLS failure.
async fn connect(
    fake: &FakeKube,
    tls: &TlsConnector,
    server_name: &str,
) -> std::io::Result<SendRequest<Empty<Bytes>>> {
    let tcp = TcpStream::connect(address(fake)).await?;
    let name = ServerName::try_from(server_name.to_owned()).unwrap();
    let stream = tls.connect(name, tcp).await?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    Ok(sender)
}

#[derive(Debug)]
struct Reply {
    status: u16,
    content_type: Option<String>,
    body: Value,
}

async fn send(
    sender: &mut SendRequest<Empty<Bytes>>,
    path: &str,
    token: Option<&str>,
    accept: &str,
) -> Reply {
    let mut request = hyper::Request::get(path)
        .header("host", "127.0.0.1")
        .header("accept", accept);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = sender
        .send_request(request.body(Empty::new()).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|value| value.to_str().unwrap().to_owned());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        content_type,
        body: serde_json::from_slice(&body).unwrap(),
    }
}

/// One GET with the good token on a fresh connection that trusts the fake's CA.
async fn get_authorized(fake: &FakeKube, path: &str) -> Reply {
    get(fake, path, Some(GOOD_TOKEN)).await
}

/// One GET on a fresh connection that trusts the fake's CA.
async fn get(fake: &FakeKube, path: &str, token: Option<&str>) -> Reply {
    get_accepting(fake, path, token, "application/json").await
}

async fn get_accepting(fake: &FakeKube, path: &str, token: Option<&str>, accept: &str) -> Reply {
    let mut sender = connect(fake, &connector(fake.ca_pem()), "127.0.0.1")
        .await
        .unwrap();
    send(&mut sender, path, token, accept).await
}

fn assert_status(reply: &Reply, code: u16, reason: &str) {
    assert_eq!(reply.status, code, "{reply:?}");
    assert_eq!(reply.body["kind"], "Status", "{reply:?}");
    assert_eq!(reply.body["apiVersion"], "v1");
    assert_eq!(reply.body["status"], "Failure");
    assert_eq!(reply.body["reason"], reason, "{reply:?}");
    assert_eq!(reply.body["code"], code);
}

fn names(list: &Value) -> Vec<&str> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["metadata"]["name"].as_str().unwrap())
        .collect()
}

fn tls_error(error: &std::io::Error) -> &rustls::Error {
    error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .unwrap_or_else(|| panic!("not a TLS error: {error:?}"))
}

#[tokio::test]
async fn endpoint_is_https_on_loopback_and_ca_is_a_kubernetes_ca_pem() {
    let fake = start().await;
    assert!(fake.endpoint().starts_with("https://127.0.0.1:"));
    assert!(fake.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(
        CertificateDer::pem_slice_iter(fake.ca_pem().as_bytes()).count(),
        1
    );
}

#[tokio::test]
async fn tls_handshake_succeeds_for_every_name_the_certificate_covers() {
    let fake = start().await;
    let tls = connector(fake.ca_pem());
    for name in [
        "127.0.0.1",
        "localhost",
        "kubernetes",
        "kubernetes.default.svc",
    ] {
        let mut sender = connect(&fake, &tls, name)
            .await
            .unwrap_or_else(|error| panic!("{name}: {error}"));
        let reply = send(
            &mut sender,
            "/version",
            Some(GOOD_TOKEN),
            "application/json",
        )
        .await;
        assert_eq!(reply.status, 200, "{name}");
    }
}

#[tokio::test]
async fn tls_handshake_fails_for_a_client_that_does_not_trust_the_ca() {
    let fake = start().await;
    let other = start().await;
    // No CA at all; another cluster's CA, which has the same name but not the same key.
    for (untrusting, expected) in [
        (connector(""), CertificateError::UnknownIssuer),
        (connector(other.ca_pem()), CertificateError::BadSignature),
    ] {
        let error = connect(&fake, &untrusting, "127.0.0.1")
            .await
            .expect_err("handshake should fail");
        assert_eq!(
            tls_error(&error),
            &rustls::Error::InvalidCertificate(expected)
        );
    }
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn tls_handshake_fails_for_a_name_the_certificate_does_not_cover() {
    let fake = start().await;
    let error = connect(&fake, &connector(fake.ca_pem()), "example.com")
        .await
        .expect_err("handshake should fail");
    assert!(
        matches!(
            tls_error(&error),
            rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext { .. })
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn request_without_a_token_is_401_status() {
    let fake = start().await;
    let reply = get(&fake, "/version", None).await;
    assert_status(&reply, 401, "Unauthorized");
    assert_eq!(reply.content_type.as_deref(), Some("application/json"));
    let message = reply.body["message"].as_str().unwrap();
    assert!(message.starts_with("Unauthorized"), "{message}");
    assert!(message.contains("no Authorization header"), "{message}");
    assert_eq!(fake.unauthorized_count(), 1);
}

#[tokio::test]
async fn request_with_a_bad_token_is_401_with_the_verifiers_reason() {
    let fake = start().await;
    let reply = get(&fake, "/api/v1/namespaces", Some("k8s-aws-v1.forged")).await;
    assert_status(&reply, 401, "Unauthorized");
    assert_eq!(
        reply.body["message"],
        "Unauthorized: token is not recognised"
    );
    let calls = fake.requests();
    assert_eq!(calls.len(), 1);
    assert!(!calls[0].authenticated);
    assert_eq!(calls[0].user, None);
    assert_eq!(
        calls[0].rejection.as_deref(),
        Some("token is not recognised")
    );
}

#[tokio::test]
async fn a_revoked_token_is_rejected_as_expired_and_a_new_one_accepted() {
    let verifier = tokens();
    let fake = FakeKube::start(verifier.clone()).await.unwrap();
    assert_eq!(get_authorized(&fake, "/version").await.status, 200);
    verifier.revoke(GOOD_TOKEN);
    let reply = get_authorized(&fake, "/version").await;
    assert_status(&reply, 401, "Unauthorized");
    assert_eq!(reply.body["message"], "Unauthorized: token has expired");
    verifier.allow("k8s-aws-v1.fresh", USER);
    assert_eq!(
        get(&fake, "/version", Some("k8s-aws-v1.fresh"))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn a_closure_is_a_verifier() {
    let fake = FakeKube::start(Arc::new(|token: &str| {
        token
            .strip_prefix("user-")
            .map(str::to_owned)
            .ok_or_else(|| "want user-<name>".to_owned())
    }))
    .await
    .unwrap();
    assert_eq!(get(&fake, "/version", Some("user-ada")).await.status, 200);
    assert_eq!(get(&fake, "/version", Some("ada")).await.status, 401);
    assert_eq!(fake.requests()[0].user.as_deref(), Some("ada"));
}

#[tokio::test]
async fn eks_tokens_are_checked_by_the_fake_authenticator() {
    const AKID: &str = "AKIAIOSFODNN7EXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    let config = AuthenticatorConfig::new("airflow", "us-east-1").with_credential(AKID, SECRET);
    let fake = FakeKube::start(Arc::new(Authenticator::new(config)))
        .await
        .unwrap();
    let credentials = Credentials::new(AKID, SECRET, None, None, "test");
    let token = |cluster_name| {
        let request = TokenRequest {
            cluster_name,
            region: "us-east-1",
            sts_endpoint: None,
        };
        presign(&credentials, &request, std::time::SystemTime::now())
            .unwrap()
            .as_str()
            .to_owned()
    };

    let accepted = get(&fake, "/version", Some(&token("airflow"))).await;
    assert_eq!(accepted.status, 200);
    let user = fake.requests()[0].user.clone().unwrap();
    assert!(user.starts_with("arn:aws:sts::"), "{user}");

    let other_cluster = get(&fake, "/version", Some(&token("other"))).await;
    assert_status(&other_cluster, 401, "Unauthorized");
    let message = other_cluster.body["message"].as_str().unwrap();
    assert!(message.contains("signature does not match"), "{message}");
}

#[tokio::test]
async fn good_token_gets_version_info() {
    let fake = start().await;
    let reply = get_authorized(&fake, "/version").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.content_type.as_deref(), Some("application/json"));
    assert_eq!(reply.body["major"], "1");
    assert_eq!(reply.body["minor"], "31");
    assert_eq!(reply.body["gitVersion"], "v1.31.0-eks-fake");
    assert_eq!(reply.body["platform"], "linux/amd64");
}

#[tokio::test]
async fn reject_next_answers_401_to_good_tokens_then_recovers() {
    let fake = start().await;
    fake.reject_next(1);
    let mut sender = connect(&fake, &connector(fake.ca_pem()), "127.0.0.1")
        .await
        .unwrap();
    // The same connection, as a client that refreshes its token and retries would use.
    let rejected = send(
        &mut sender,
        "/version",
        Some(GOOD_TOKEN),
        "application/json",
    )
    .await;
    assert_status(&rejected, 401, "Unauthorized");
    let retried = send(
        &mut sender,
        "/version",
        Some(GOOD_TOKEN),
        "application/json",
    )
    .await;
    assert_eq!(retried.status, 200);

    assert_eq!(fake.unauthorized_count(), 1);
    let calls = fake.requests();
    assert_eq!(calls.len(), 2);
    assert!(!calls[0].authenticated);
    assert!(
        calls[0]
            .rejection
            .as_deref()
            .unwrap()
            .contains("reject_next")
    );
    assert!(calls[1].authenticated);
}

#[tokio::test]
async fn reject_next_is_not_used_up_by_requests_that_fail_authentication_anyway() {
    let fake = start().await;
    fake.reject_next(2);
    assert_eq!(get(&fake, "/version", None).await.status, 401);
    assert_eq!(get_authorized(&fake, "/version").await.status, 401);
    assert_eq!(get_authorized(&fake, "/version").await.status, 401);
    assert_eq!(get_authorized(&fake, "/version").await.status, 200);
    assert_eq!(fake.unauthorized_count(), 3);
}

#[tokio::test]
async fn discovery_documents_name_the_core_resources() {
    let fake = start().await;
    let api = get_authorized(&fake, "/api").await;
    assert_eq!(api.body["kind"], "APIVersions");
    assert_eq!(api.body["versions"], json!(["v1"]));
    assert_eq!(
        api.body["serverAddressByClientCIDRs"][0]["serverAddress"],
        address(&fake)
    );

    let apis = get_authorized(&fake, "/apis").await;
    assert_eq!(apis.body["kind"], "APIGroupList");
    assert!(apis.body["groups"].is_array());

    let v1 = get_authorized(&fake, "/api/v1").await;
    assert_eq!(v1.body["kind"], "APIResourceList");
    assert_eq!(v1.body["groupVersion"], "v1");
    let resources: Vec<(&str, &str, bool)> = v1.body["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap(),
                r["kind"].as_str().unwrap(),
                r["namespaced"].as_bool().unwrap(),
            )
        })
        .collect();
    for expected in [
        ("pods", "Pod", true),
        ("pods/log", "Pod", true),
        ("namespaces", "Namespace", false),
        ("events", "Event", true),
    ] {
        assert!(
            resources.contains(&expected),
            "{expected:?} in {resources:?}"
        );
    }
}

#[tokio::test]
async fn namespaces_start_as_on_eks_and_can_be_added() {
    let fake = start().await;
    fake.seed_namespace("airflow");
    let list = get_authorized(&fake, "/api/v1/namespaces").await;
    assert_eq!(list.body["kind"], "NamespaceList");
    assert_eq!(
        names(&list.body),
        [
            "airflow",
            "default",
            "kube-node-lease",
            "kube-public",
            "kube-system"
        ]
    );
    let default = get_authorized(&fake, "/api/v1/namespaces/default").await;
    assert_eq!(default.status, 200);
    assert_eq!(default.body["kind"], "Namespace");
    assert_eq!(default.body["status"]["phase"], "Active");

    let missing = get_authorized(&fake, "/api/v1/namespaces/nope").await;
    assert_status(&missing, 404, "NotFound");
    assert_eq!(missing.body["message"], "namespaces \"nope\" not found");
}

fn pod(name: &str, labels: Value) -> Value {
    json!({
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "base", "image": "apache/airflow:2.10.5"}]},
    })
}

#[tokio::test]
async fn pod_list_is_empty_until_seeded_and_honours_label_selectors() {
    let fake = start().await;
    let empty = get_authorized(&fake, "/api/v1/namespaces/default/pods").await;
    assert_eq!(empty.status, 200);
    assert_eq!(empty.body["kind"], "PodList");
    assert_eq!(empty.body["items"], json!([]));

    fake.seed_pod(
        "default",
        pod("run-1", json!({"dag_id": "etl", "task_id": "extract"})),
    );
    fake.seed_pod(
        "default",
        pod("run-2", json!({"dag_id": "etl", "task_id": "load"})),
    );
    fake.seed_pod("default", pod("web", json!({"app": "web"})));
    fake.seed_pod("airflow", pod("run-3", json!({"dag_id": "etl"})));

    let all = get_authorized(&fake, "/api/v1/namespaces/default/pods").await;
    assert_eq!(names(&all.body), ["run-1", "run-2", "web"]);

    // As kubectl and kube-rs send it: `=` and `,` percent-encoded.
    let etl = get_authorized(
        &fake,
        "/api/v1/namespaces/default/pods?labelSelector=dag_id%3Detl",
    )
    .await;
    assert_eq!(names(&etl.body), ["run-1", "run-2"]);

    let load = get_authorized(
        &fake,
        "/api/v1/namespaces/default/pods?labelSelector=dag_id%3Detl%2Ctask_id%3Dload",
    )
    .await;
    assert_eq!(names(&load.body), ["run-2"]);

    let everywhere = get_authorized(&fake, "/api/v1/pods?labelSelector=dag_id=etl").await;
    assert_eq!(names(&everywhere.body), ["run-3", "run-1", "run-2"]);

    let set_based = get_authorized(
        &fake,
        "/api/v1/namespaces/default/pods?labelSelector=dag_id%20in%20(etl)",
    )
    .await;
    assert_status(&set_based, 400, "BadRequest");
}

#[tokio::test]
async fn seeded_pod_reads_back_with_server_fields_and_missing_pod_is_404() {
    let fake = start().await;
    fake.seed_pod("default", pod("run-1", json!({"dag_id": "etl"})));

    let found = get_authorized(&fake, "/api/v1/namespaces/default/pods/run-1").await;
    assert_eq!(found.status, 200);
    assert_eq!(found.body["kind"], "Pod");
    assert_eq!(found.body["apiVersion"], "v1");
    assert_eq!(found.body["metadata"]["namespace"], "default");
    assert_eq!(found.body["status"]["phase"], "Pending");
    assert!(found.body["metadata"]["uid"].is_string());
    assert!(found.body["metadata"]["creationTimestamp"].is_string());

    let missing = get_authorized(&fake, "/api/v1/namespaces/default/pods/run-9").await;
    assert_status(&missing, 404, "NotFound");
    assert_eq!(missing.body["message"], "pods \"run-9\" not found");
    assert_eq!(
        missing.body["details"],
        json!({"name": "run-9", "kind": "pods"})
    );
    // In another namespace the same name is another pod.
    let elsewhere = get_authorized(&fake, "/api/v1/namespaces/airflow/pods/run-1").await;
    assert_status(&elsewhere, 404, "NotFound");
}

#[tokio::test]
async fn unknown_paths_and_methods_are_status_errors() {
    let fake = start().await;
    for path in ["/openapi/v2", "/apis/apps/v1", "/api/v1/nodes"] {
        let reply = get_authorized(&fake, path).await;
        assert_status(&reply, 404, "NotFound");
        assert_eq!(
            reply.body["message"],
            "the server could not find the requested resource"
        );
    }
    // Authentication comes first: an unknown path without a token is still 401.
    assert_status(&get(&fake, "/openapi/v2", None).await, 401, "Unauthorized");

    let mut sender = connect(&fake, &connector(fake.ca_pem()), "127.0.0.1")
        .await
        .unwrap();
    let request = hyper::Request::delete("/api/v1/namespaces/default")
        .header("host", "127.0.0.1")
        .header("authorization", format!("Bearer {GOOD_TOKEN}"))
        .body(Empty::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 405);
}

#[tokio::test]
async fn kubectl_gets_a_table_of_pods() {
    let fake = start().await;
    let mut running = pod("run-1", json!({"dag_id": "etl"}));
    running["status"] = json!({
        "phase": "Running",
        "containerStatuses": [
            {"name": "base", "ready": true, "restartCount": 0, "state": {"running": {}}},
        ],
    });
    fake.seed_pod("default", running);
    let table = get_accepting(
        &fake,
        "/api/v1/namespaces/default/pods?limit=500",
        Some(GOOD_TOKEN),
        KUBECTL_ACCEPT,
    )
    .await;
    assert_eq!(table.status, 200);
    assert_eq!(table.body["kind"], "Table");
    assert_eq!(table.body["apiVersion"], "meta.k8s.io/v1");
    let columns: Vec<&str> = table.body["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|column| column["priority"] == 0)
        .map(|column| column["name"].as_str().unwrap())
        .collect();
    assert_eq!(columns, ["Name", "Ready", "Status", "Restarts", "Age"]);
    let cells = &table.body["rows"][0]["cells"];
    assert_eq!(cells[0], "run-1");
    assert_eq!(cells[1], "1/1");
    assert_eq!(cells[2], "Running");
    assert_eq!(cells[3], 0);
    assert!(cells[4].as_str().unwrap().ends_with('s'), "{cells}");
    assert_eq!(
        table.body["rows"][0]["object"]["metadata"]["namespace"],
        "default"
    );
}

#[tokio::test]
async fn every_request_is_recorded_in_order() {
    let fake = start().await;
    get(&fake, "/version", None).await;
    get_authorized(&fake, "/api/v1/namespaces/default/pods?labelSelector=a%3Db").await;
    get_authorized(&fake, "/nope").await;

    let calls = fake.requests();
    let summary: Vec<(&str, String, bool, Option<&str>, u16)> = calls
        .iter()
        .map(|call| {
            (
                call.method.as_str(),
                call.path_and_query(),
                call.authenticated,
                call.user.as_deref(),
                call.status,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("GET", "/version".to_owned(), false, None, 401),
            (
                "GET",
                "/api/v1/namespaces/default/pods?labelSelector=a%3Db".to_owned(),
                true,
                Some(USER),
                200
            ),
            ("GET", "/nope".to_owned(), true, Some(USER), 404),
        ]
    );
    assert_eq!(calls[1].query.as_deref(), Some("labelSelector=a%3Db"));
    assert!(calls.windows(2).all(|pair| pair[0].at <= pair[1].at));
    assert_eq!(fake.unauthorized_count(), 1);
}

#[tokio::test]
async fn start_on_serves_on_the_given_listener() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let fake = FakeKube::start_on(listener, tokens()).await.unwrap();
    assert_eq!(fake.endpoint(), format!("https://127.0.0.1:{port}"));
    assert_eq!(get_authorized(&fake, "/version").await.status, 200);
}

#[tokio::test]
async fn dropping_the_fake_closes_open_connections_and_the_port() {
    let fake = start().await;
    let address = address(&fake);
    let mut sender = connect(&fake, &connector(fake.ca_pem()), "127.0.0.1")
        .await
        .unwrap();
    assert_eq!(
        send(
            &mut sender,
            "/version",
            Some(GOOD_TOKEN),
            "application/json"
        )
        .await
        .status,
        200
    );
    drop(fake);

    eventually("the kept-alive connection to close", || {
        let closed = sender.is_closed();
        async move { closed.then_some(()) }
    })
    .await;
    eventually("the port to refuse connections", || {
        let address = address.clone();
        async move { TcpStream::connect(address).await.is_err().then_some(()) }
    })
    .await;
}
