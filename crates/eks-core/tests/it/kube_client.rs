//! The kube client for EKS against the fake Kubernetes API, which verifies every token the way
//! EKS does: it keeps working when its token expires or is refused.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use eks_core::kube::{ClusterAccess, MakeToken, TokenProvider, client};
use eks_core::token::{TokenRequest, presign};
use eks_testkit::FakeKube;
use eks_testkit::authenticator::{Authenticator, AuthenticatorConfig};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};

const AKID: &str = "AKIDKUBECLIENTTEST00";
const SECRET: &str = "kube-client-test-secret-key-0000000000000";

/// A clock both the signer and the authenticator read, so a test can move time.
#[derive(Clone)]
struct Clock(Arc<Mutex<SystemTime>>);

impl Clock {
    fn now(&self) -> SystemTime {
        *self.0.lock().unwrap()
    }
    fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

async fn setup() -> (FakeKube, ::kube::Client, Clock, Arc<Mutex<usize>>) {
    let clock = Clock(Arc::new(Mutex::new(SystemTime::now())));
    let verifier_clock = clock.clone();
    let authenticator = Authenticator::new(
        AuthenticatorConfig::new("long", "us-east-1").with_credential(AKID, SECRET),
    )
    .with_clock(move || verifier_clock.now());
    let api = FakeKube::start(Arc::new(authenticator)).await.unwrap();
    let made = Arc::new(Mutex::new(0));
    let (signer_clock, counter) = (clock.clone(), made.clone());
    let make: MakeToken = Arc::new(move || {
        let at = signer_clock.now();
        *counter.lock().unwrap() += 1;
        Box::pin(async move {
            let credentials = Credentials::new(AKID, SECRET, None, None, "test");
            let request = TokenRequest {
                cluster_name: "long",
                region: "us-east-1",
                sts_endpoint: None,
            };
            Ok(presign(&credentials, &request, at)?)
        })
    });
    let access = ClusterAccess {
        endpoint: api.endpoint(),
        certificate_authority_data: api.ca_pem().to_owned(),
        default_namespace: "default".into(),
    };
    let kube = client(&access, Arc::new(TokenProvider::new(make))).unwrap();
    (api, kube, clock, made)
}

#[tokio::test]
async fn an_expired_token_is_replaced_and_the_request_retried() {
    let (api, kube, clock, made) = setup().await;
    let pods: Api<Pod> = Api::default_namespaced(kube);
    pods.list(&ListParams::default()).await.unwrap();
    assert_eq!(*made.lock().unwrap(), 1, "one token for the first requests");
    // Sixteen minutes on: the cached token is past EKS's 15-minute window.
    clock.advance(Duration::from_secs(16 * 60));
    let listed = pods.list(&ListParams::default()).await.unwrap();
    assert!(listed.items.is_empty());
    assert_eq!(
        api.unauthorized_count(),
        1,
        "one refusal, then the new token"
    );
    assert_eq!(*made.lock().unwrap(), 2);
}

#[tokio::test]
async fn a_refused_request_is_retried_once_with_a_new_token() {
    let (api, kube, _clock, made) = setup().await;
    let pods: Api<Pod> = Api::default_namespaced(kube);
    api.reject_next(1);
    pods.list(&ListParams::default()).await.unwrap();
    assert_eq!(api.unauthorized_count(), 1);
    assert_eq!(*made.lock().unwrap(), 2);
    // Refused twice in a row: the error reaches the caller rather than looping.
    api.reject_next(2);
    let err = pods.list(&ListParams::default()).await.unwrap_err();
    assert!(
        err.to_string().contains("401") || err.to_string().to_lowercase().contains("unauthorized"),
        "{err}"
    );
}

#[tokio::test]
async fn tls_is_verified_against_the_cluster_ca() {
    let (api, _kube, _clock, _made) = setup().await;
    let make: MakeToken =
        Arc::new(|| Box::pin(async { Err(eks_core::Error::Internal("unused".into())) }));
    // Another CA: the handshake must fail, there is no insecure fallback.
    let other = FakeKube::start(Arc::new(|_: &str| Ok::<_, String>("x".into())))
        .await
        .unwrap();
    let access = ClusterAccess {
        endpoint: api.endpoint(),
        certificate_authority_data: other.ca_pem().to_owned(),
        default_namespace: "default".into(),
    };
    let kube = client(&access, Arc::new(TokenProvider::new(make))).unwrap();
    let err = kube.apiserver_version().await.unwrap_err();
    assert!(
        api.requests().is_empty(),
        "no request may pass an untrusted TLS handshake: {err}"
    );
}
