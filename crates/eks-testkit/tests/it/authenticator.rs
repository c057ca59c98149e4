//! The fake authenticator against real tokens: eks-core's `presign` as the producer, and
//! the tokens botocore made in `fixtures/token/botocore.json`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_eks::config::Credentials;
use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use eks_core::token::{TokenRequest, presign};
use eks_testkit::authenticator::{Authenticator, AuthenticatorConfig, Rejection};
use serde::Deserialize;

const AKID: &str = "ASIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const SESSION: &str = "IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+session/token==";
const CLUSTER: &str = "airflow-prod";
const REGION: &str = "us-east-1";

/// 2026-01-01T00:00:00Z.
fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_767_225_600)
}

fn minutes(n: u64) -> Duration {
    Duration::from_secs(n * 60)
}

fn credentials() -> Credentials {
    Credentials::new(AKID, SECRET, Some(SESSION.to_owned()), None, "test")
}

fn config() -> AuthenticatorConfig {
    AuthenticatorConfig::new(CLUSTER, REGION).with_credential(AKID, SECRET)
}

/// The authenticator of [`config`] with "now" fixed at `now`.
fn authenticator_at(config: AuthenticatorConfig, now: SystemTime) -> Authenticator {
    Authenticator::new(config).with_clock(move || now)
}

fn token_for(cluster_name: &str, region: &str, endpoint: Option<&str>, at: SystemTime) -> String {
    let request = TokenRequest {
        cluster_name,
        region,
        sts_endpoint: endpoint,
    };
    presign(&credentials(), &request, at)
        .expect("presign")
        .as_str()
        .to_owned()
}

fn valid_token() -> String {
    token_for(CLUSTER, REGION, None, t0())
}

fn decode(token: &str) -> String {
    let body = token.strip_prefix("k8s-aws-v1.").expect("prefix");
    String::from_utf8(URL_SAFE_NO_PAD.decode(body).expect("base64")).expect("utf-8")
}

fn encode(url: &str) -> String {
    format!("k8s-aws-v1.{}", URL_SAFE_NO_PAD.encode(url))
}

/// The valid token with its URL edited by `edit`.
fn tampered(edit: impl FnOnce(String) -> String) -> String {
    let url = decode(&valid_token());
    let edited = edit(url.clone());
    assert_ne!(edited, url, "the edit changed nothing");
    encode(&edited)
}

fn rejection(token: &str) -> Rejection {
    authenticator_at(config(), t0() + minutes(1))
        .verify(token)
        .expect_err("the token should be rejected")
}

#[test]
fn is_cheap_to_share_with_a_server() {
    fn shareable<T: Clone + Send + Sync + 'static>() {}
    shareable::<Authenticator>();
}

#[test]
fn valid_token_accepted_with_identity() {
    let identity = authenticator_at(config(), t0() + minutes(1))
        .verify(&valid_token())
        .expect("accepted");
    assert_eq!(identity.access_key_id, AKID);
    assert_eq!(identity.account_id, "123456789012");
    assert_eq!(
        identity.arn,
        format!("arn:aws:sts::123456789012:assumed-role/eks-operators-test/{AKID}")
    );
    assert_eq!(identity.sts_host, "sts.us-east-1.amazonaws.com");
}

#[test]
fn accepted_for_the_whole_lifetime_and_no_longer() {
    let token = valid_token();
    for now in [t0(), t0() + minutes(14), t0() + minutes(15)] {
        authenticator_at(config(), now)
            .verify(&token)
            .expect("within 15 minutes");
    }
    let err = authenticator_at(config(), t0() + minutes(15) + Duration::from_secs(1))
        .verify(&token)
        .expect_err("past 15 minutes");
    assert!(matches!(err, Rejection::Expired { .. }), "{err}");
}

#[test]
fn expired_when_the_clock_moves_sixteen_minutes() {
    let err = authenticator_at(config(), t0() + minutes(16))
        .verify(&valid_token())
        .expect_err("expired");
    assert_eq!(
        err,
        Rejection::Expired {
            signed_at: "20260101T000000Z".to_owned(),
            lifetime: minutes(15)
        }
    );
    assert_eq!(
        err.to_string(),
        "token signed at 20260101T000000Z has expired (900s lifetime)"
    );
}

#[test]
fn lifetime_is_configurable() {
    let short = AuthenticatorConfig {
        token_lifetime: Duration::from_secs(2),
        ..config()
    };
    let token = valid_token();
    authenticator_at(short.clone(), t0() + Duration::from_secs(2))
        .verify(&token)
        .expect("within 2 s");
    let err = authenticator_at(short, t0() + Duration::from_secs(3))
        .verify(&token)
        .expect_err("after 2 s");
    assert!(matches!(err, Rejection::Expired { .. }), "{err}");
}

#[test]
fn clock_is_consulted_on_every_call() {
    let now = std::sync::Arc::new(std::sync::Mutex::new(t0()));
    let clock = now.clone();
    let authenticator =
        Authenticator::new(config()).with_clock(move || *clock.lock().expect("clock lock"));
    let token = valid_token();
    authenticator.verify(&token).expect("fresh");
    *now.lock().expect("clock lock") = t0() + minutes(16);
    let err = authenticator.verify(&token).expect_err("stale");
    assert!(matches!(err, Rejection::Expired { .. }), "{err}");
}

#[test]
fn future_dated_beyond_the_skew_rejected() {
    let ahead = token_for(CLUSTER, REGION, None, t0() + minutes(10));
    let err = rejection(&ahead);
    assert!(matches!(err, Rejection::FutureDated { .. }), "{err}");

    let slightly_ahead = token_for(CLUSTER, REGION, None, t0() + minutes(3));
    authenticator_at(config(), t0())
        .verify(&slightly_ahead)
        .expect("within the 5-minute skew");
}

#[test]
fn tampered_signature_rejected() {
    let token = tampered(|url| {
        let last = url.chars().last().expect("non-empty");
        let flipped = if last == '0' { '1' } else { '0' };
        format!("{}{flipped}", &url[..url.len() - 1])
    });
    assert_eq!(
        rejection(&token),
        Rejection::SignatureMismatch {
            cluster_name: CLUSTER.to_owned()
        }
    );
}

#[test]
fn tampered_cluster_id_rejected() {
    // The cluster id is only in the signature; changing its case changes the signed header.
    let token = token_for("Airflow-Prod", REGION, None, t0());
    assert!(matches!(
        rejection(&token),
        Rejection::SignatureMismatch { .. }
    ));
}

#[test]
fn token_for_another_cluster_rejected() {
    let token = token_for("other-cluster", REGION, None, t0());
    let err = rejection(&token);
    assert!(matches!(err, Rejection::SignatureMismatch { .. }), "{err}");
    assert!(err.to_string().contains("\"airflow-prod\""), "{err}");
}

#[test]
fn token_for_another_region_rejected() {
    // Signed for eu-west-1 at its own endpoint: not a host of the cluster's region.
    let err = rejection(&token_for(CLUSTER, "eu-west-1", None, t0()));
    assert_eq!(
        err,
        Rejection::UnexpectedHost {
            host: "sts.eu-west-1.amazonaws.com".to_owned()
        }
    );
    // Signed for eu-west-1 but sent to the cluster region's endpoint.
    let err = rejection(&token_for(
        CLUSTER,
        "eu-west-1",
        Some("https://sts.us-east-1.amazonaws.com"),
        t0(),
    ));
    assert_eq!(
        err,
        Rejection::WrongRegion {
            expected: REGION.to_owned(),
            found: "eu-west-1".to_owned()
        }
    );
}

#[test]
fn unknown_access_key_rejected() {
    let stranger = AuthenticatorConfig::new(CLUSTER, REGION).with_credential("AKIDOTHER", SECRET);
    let err = authenticator_at(stranger, t0())
        .verify(&valid_token())
        .expect_err("unknown key");
    assert_eq!(
        err,
        Rejection::UnknownAccessKey {
            access_key_id: AKID.to_owned()
        }
    );
}

#[test]
fn wrong_secret_rejected() {
    let other_secret = AuthenticatorConfig::new(CLUSTER, REGION).with_credential(AKID, "not-it");
    let err = authenticator_at(other_secret, t0())
        .verify(&valid_token())
        .expect_err("wrong secret");
    assert!(matches!(err, Rejection::SignatureMismatch { .. }), "{err}");
}

#[test]
fn cluster_id_missing_from_signed_headers_rejected() {
    let token =
        tampered(|url| url.replace("SignedHeaders=host%3Bx-k8s-aws-id", "SignedHeaders=host"));
    assert_eq!(
        rejection(&token),
        Rejection::ClusterIdNotSigned {
            signed_headers: "host".to_owned()
        }
    );
}

#[test]
fn extra_signed_header_rejected() {
    let token = tampered(|url| {
        url.replace(
            "SignedHeaders=host%3Bx-k8s-aws-id",
            "SignedHeaders=host%3Bx-k8s-aws-id%3Bx-extra",
        )
    });
    assert!(matches!(
        rejection(&token),
        Rejection::UnexpectedSignedHeader { name } if name == "x-extra"
    ));
}

#[test]
fn extra_query_parameter_rejected() {
    let token = tampered(|url| format!("{url}&X-Amz-User-Agent=curl"));
    assert_eq!(
        rejection(&token),
        Rejection::UnexpectedParameter {
            name: "X-Amz-User-Agent".to_owned()
        }
    );
}

#[test]
fn duplicated_parameter_rejected() {
    for extra in ["&Action=GetCallerIdentity", "&action=GetCallerIdentity"] {
        let token = tampered(|url| format!("{url}{extra}"));
        assert!(
            matches!(rejection(&token), Rejection::DuplicateParameter { .. }),
            "{extra}"
        );
    }
}

#[test]
fn other_action_rejected() {
    let token = tampered(|url| url.replace("Action=GetCallerIdentity", "Action=AssumeRole"));
    assert_eq!(
        rejection(&token),
        Rejection::WrongAction {
            action: "AssumeRole".to_owned()
        }
    );
}

#[test]
fn expires_over_fifteen_minutes_rejected() {
    let token = tampered(|url| url.replace("X-Amz-Expires=60", "X-Amz-Expires=901"));
    assert_eq!(
        rejection(&token),
        Rejection::BadExpires {
            value: "901".to_owned()
        }
    );
    // 900 passes this check and fails only at the signature, which covered the 60.
    let token = tampered(|url| url.replace("X-Amz-Expires=60", "X-Amz-Expires=900"));
    assert!(matches!(
        rejection(&token),
        Rejection::SignatureMismatch { .. }
    ));
}

#[test]
fn http_instead_of_https_rejected() {
    let token = tampered(|url| url.replacen("https://", "http://", 1));
    assert_eq!(
        rejection(&token),
        Rejection::NotHttps {
            scheme: "http".to_owned()
        }
    );
}

#[test]
fn wrong_host_rejected() {
    let token = token_for(CLUSTER, REGION, Some("https://sts.example.com"), t0());
    assert_eq!(
        rejection(&token),
        Rejection::UnexpectedHost {
            host: "sts.example.com".to_owned()
        }
    );
}

#[test]
fn allowed_host_override_accepts_a_local_endpoint() {
    let token = token_for(CLUSTER, REGION, Some("https://127.0.0.1:8443"), t0());
    assert!(matches!(
        rejection(&token),
        Rejection::UnexpectedHost { .. }
    ));
    let local = AuthenticatorConfig {
        allowed_hosts: vec!["127.0.0.1:8443".to_owned()],
        ..config()
    };
    let identity = authenticator_at(local, t0())
        .verify(&token)
        .expect("allowed host");
    assert_eq!(identity.sts_host, "127.0.0.1:8443");
}

#[test]
fn wrong_path_rejected() {
    let token = tampered(|url| url.replacen(".com/?", ".com/sts/?", 1));
    assert_eq!(
        rejection(&token),
        Rejection::UnexpectedPath {
            path: "/sts/".to_owned()
        }
    );
}

#[test]
fn over_4096_bytes_rejected() {
    let long_session = "A".repeat(3000);
    let request = TokenRequest {
        cluster_name: CLUSTER,
        region: REGION,
        sts_endpoint: None,
    };
    let creds = Credentials::new(AKID, SECRET, Some(long_session), None, "test");
    let token = presign(&creds, &request, t0()).expect("presign");
    let len = token.as_str().len();
    assert!(len > 4096, "{len}");
    assert_eq!(rejection(token.as_str()), Rejection::TooLarge { len });
}

#[test]
fn bad_prefix_rejected() {
    let token = valid_token().replacen("k8s-aws-v1.", "k8s-aws-v2.", 1);
    assert_eq!(rejection(&token), Rejection::MissingPrefix);
    assert_eq!(rejection(&decode(&valid_token())), Rejection::MissingPrefix);
}

#[test]
fn bad_base64_rejected() {
    for token in ["k8s-aws-v1.!!!!", "k8s-aws-v1.aGVsbG8/d29ybGQ"] {
        assert!(
            matches!(rejection(token), Rejection::BadBase64 { .. }),
            "{token}"
        );
    }
}

#[test]
fn padded_base64_rejected_as_the_real_authenticator_does() {
    // Go's RawURLEncoding refuses '='; aws-cli and Airflow strip it for that reason. A URL
    // whose length is not a multiple of 3 needs padding; one of three session-token
    // lengths gives one.
    let request = TokenRequest {
        cluster_name: CLUSTER,
        region: REGION,
        sts_endpoint: None,
    };
    let url = (1..=3)
        .map(|n| {
            let creds = Credentials::new(AKID, SECRET, Some("A".repeat(n)), None, "test");
            decode(presign(&creds, &request, t0()).expect("presign").as_str())
        })
        .find(|url| url.len() % 3 != 0)
        .expect("a URL that needs padding");
    let padded = format!("k8s-aws-v1.{}", URL_SAFE.encode(&url));
    assert!(padded.ends_with('='), "{padded}");
    let err = rejection(&padded);
    assert!(matches!(err, Rejection::BadBase64 { .. }), "{err}");
    authenticator_at(config(), t0())
        .verify(padded.trim_end_matches('='))
        .expect("the same token without padding");
}

#[test]
fn rejections_never_show_the_token_or_secrets() {
    let token = valid_token();
    let wrong_cluster = AuthenticatorConfig {
        cluster_name: "other".to_owned(),
        ..config()
    };
    let err = authenticator_at(wrong_cluster, t0())
        .verify(&token)
        .expect_err("rejected");
    let shown = format!("{err} {err:?}");
    for secret in [token.as_str(), SECRET, SESSION] {
        assert!(!shown.contains(secret), "{shown}");
    }
}

/// One case of `fixtures/token/botocore.json`.
#[derive(Debug, Deserialize)]
struct BotocoreCase {
    name: String,
    partition: String,
    region: String,
    cluster_name: String,
    sts_endpoint: Option<String>,
    access_key_id: String,
    secret_access_key: String,
    signed_at_unix: u64,
    token: String,
}

#[derive(Debug, Deserialize)]
struct Fixture {
    cases: Vec<BotocoreCase>,
}

fn botocore_cases() -> Vec<BotocoreCase> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/token/botocore.json"
    );
    let text = std::fs::read_to_string(path).expect("read the botocore fixture");
    serde_json::from_str::<Fixture>(&text)
        .expect("parse the botocore fixture")
        .cases
}

fn authenticator_for(case: &BotocoreCase, secret: &str, now: SystemTime) -> Authenticator {
    let allowed_hosts = case
        .sts_endpoint
        .iter()
        .map(|e| e.trim_start_matches("https://").to_owned())
        .collect();
    let config = AuthenticatorConfig {
        allowed_hosts,
        ..AuthenticatorConfig::new(&case.cluster_name, &case.region)
            .with_credential(&case.access_key_id, secret)
    };
    authenticator_at(config, now)
}

#[test]
fn botocore_tokens_accepted_at_their_instant() {
    let cases = botocore_cases();
    assert!(cases.len() >= 5, "fixture has too few cases");
    for case in &cases {
        let signed_at = UNIX_EPOCH + Duration::from_secs(case.signed_at_unix);
        let identity = authenticator_for(case, &case.secret_access_key, signed_at)
            .verify(&case.token)
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!(identity.access_key_id, case.access_key_id, "{}", case.name);
        assert!(
            identity
                .arn
                .starts_with(&format!("arn:{}:sts::", case.partition)),
            "{}: {}",
            case.name,
            identity.arn
        );

        let later = signed_at + minutes(16);
        let err = authenticator_for(case, &case.secret_access_key, later)
            .verify(&case.token)
            .expect_err("expired");
        assert!(
            matches!(err, Rejection::Expired { .. }),
            "{}: {err}",
            case.name
        );

        let err = authenticator_for(case, "another secret", signed_at)
            .verify(&case.token)
            .expect_err("wrong secret");
        assert!(
            matches!(err, Rejection::SignatureMismatch { .. }),
            "{}: {err}",
            case.name
        );
    }
}
