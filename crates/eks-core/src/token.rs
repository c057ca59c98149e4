//! The EKS bearer token: `k8s-aws-v1.` and the unpadded base64url of an STS
//! `GetCallerIdentity` URL presigned with SigV4, the cluster name signed in as the
//! `x-k8s-aws-id` header. EKS's authenticator replays the URL to STS to learn who signed
//! it. The bytes are those `aws eks get-token`, aws-iam-authenticator and Airflow produce:
//! the tests compare [`presign`] with tokens botocore made (`fixtures/token/`).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningParams, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_types::date_time::{DateTime, Format};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::{Error, chain};
use crate::validate;

const TOKEN_PREFIX: &str = "k8s-aws-v1.";
const CLUSTER_ID_HEADER: &str = "x-k8s-aws-id";
/// The operation's parameters, first in the URL as botocore writes them.
const OPERATION_QUERY: &str = "Action=GetCallerIdentity&Version=2011-06-15";
/// `X-Amz-Expires`. STS ignores it (a presigned URL is good for 15 minutes); every peer
/// sends 60 and old authenticators refuse more.
const URL_EXPIRES_IN: Duration = Duration::from_secs(60);
/// When to stop using a token: STS accepts it for 15 minutes; the peers say 14 for margin.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(14 * 60);

/// A bearer token for the Kubernetes API of an EKS cluster, and when to stop using it.
/// `Debug` shows the times, never the token.
#[derive(Clone, PartialEq, Eq)]
pub struct EksToken {
    token: String,
    /// The instant in `X-Amz-Date`, to the second.
    pub signed_at: SystemTime,
    /// `signed_at` + [`TOKEN_LIFETIME`].
    pub expires_at: SystemTime,
}

impl EksToken {
    /// A token made earlier (e.g. read back from a cache), with its times.
    pub fn from_parts(token: String, signed_at: SystemTime, expires_at: SystemTime) -> Self {
        EksToken {
            token,
            signed_at,
            expires_at,
        }
    }

    /// The token, for an `Authorization: Bearer` header or an `ExecCredential`.
    pub fn as_str(&self) -> &str {
        &self.token
    }

    /// `expires_at` in RFC 3339, UTC, to the second (`2026-01-01T00:14:00Z`): the
    /// `expirationTimestamp` of an `ExecCredential`.
    pub fn expiration_timestamp(&self) -> String {
        rfc3339_seconds(self.expires_at)
    }
}

impl fmt::Debug for EksToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EksToken")
            .field("token", &"** redacted **")
            .field("signed_at", &rfc3339_seconds(self.signed_at))
            .field("expires_at", &rfc3339_seconds(self.expires_at))
            .finish()
    }
}

/// What a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenRequest<'a> {
    pub cluster_name: &'a str,
    /// The region of the cluster; the token is signed for that region's STS endpoint.
    pub region: &'a str,
    /// An STS endpoint URL (`AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL`) whose scheme, host
    /// and port replace the regional endpoint's.
    pub sts_endpoint: Option<&'a str>,
}

/// Why no token could be made. Display never holds a token, key or session token.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(
        "cannot sign an EKS token for region {region:?}: not a region of a known AWS partition"
    )]
    UnknownRegion { region: String },

    #[error(
        "cannot sign an EKS token for cluster {name:?}: the name must be printable ASCII without spaces"
    )]
    ClusterName { name: String },

    #[error("STS endpoint {url:?}: {reason}")]
    Endpoint { url: String, reason: &'static str },

    #[error("no region to sign an EKS token for: pass --region or set AWS_REGION")]
    NoRegion,

    #[error("no AWS credentials provider is configured to sign an EKS token")]
    NoCredentialsProvider,

    #[error("resolving AWS credentials to sign an EKS token: {}", chain(.0))]
    Credentials(#[source] CredentialsError),

    /// The signer failed or returned something unexpected: a bug, not the user's doing.
    #[error("signing the EKS token: {0}")]
    Signing(String),
}

impl From<TokenError> for Error {
    fn from(err: TokenError) -> Self {
        match err {
            TokenError::Credentials(ref source) => {
                let transient = matches!(
                    source,
                    CredentialsError::ProviderTimedOut(_) | CredentialsError::ProviderError(_)
                );
                let not_configured = matches!(
                    source,
                    CredentialsError::CredentialsNotLoaded(_)
                        | CredentialsError::InvalidConfiguration(_)
                );
                if not_configured {
                    return Error::Config(err.to_string());
                }
                Error::Api {
                    operation: "resolve AWS credentials",
                    code: None,
                    message: err.to_string(),
                    transient,
                    source: Box::new(err),
                }
            }
            TokenError::Signing(message) => {
                Error::Internal(format!("signing the EKS token: {message}"))
            }
            other => Error::Config(other.to_string()),
        }
    }
}

/// Sign a token with `credentials` at `at`; no I/O. The token is valid from `at` (to the
/// second) for 15 minutes; `expires_at` is 14 minutes after it.
pub fn presign(
    credentials: &Credentials,
    request: &TokenRequest<'_>,
    at: SystemTime,
) -> Result<EksToken, TokenError> {
    let partition =
        validate::region("region", request.region).map_err(|_| TokenError::UnknownRegion {
            region: request.region.to_owned(),
        })?;
    let cluster_ok = !request.cluster_name.is_empty()
        && request.cluster_name.bytes().all(|b| b.is_ascii_graphic());
    if !cluster_ok {
        return Err(TokenError::ClusterName {
            name: request.cluster_name.to_owned(),
        });
    }
    let (scheme, authority) = match request.sts_endpoint {
        Some(url) => endpoint_origin(url)?,
        None => ("https", sts_host(partition, request.region)),
    };
    let host = signed_host(scheme, &authority);
    let signed_at = whole_seconds(at);

    let unsigned_url = format!("{scheme}://{authority}/?{OPERATION_QUERY}");
    let signable = SignableRequest::new(
        "GET",
        unsigned_url.as_str(),
        [
            ("host", host.as_str()),
            (CLUSTER_ID_HEADER, request.cluster_name),
        ]
        .into_iter(),
        // botocore signs the SHA-256 of the empty body, not UNSIGNED-PAYLOAD.
        SignableBody::Bytes(&[]),
    )
    .map_err(|e| TokenError::Signing(e.to_string()))?;
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(URL_EXPIRES_IN);
    let identity = credentials.clone().into();
    let params: SigningParams<'_> = v4::SigningParams::builder()
        .identity(&identity)
        .region(request.region)
        .name("sts")
        .time(signed_at)
        .settings(settings)
        .build()
        .map_err(|e| TokenError::Signing(e.to_string()))?
        .into();
    let (instructions, signature) = sign(signable, &params)
        .map_err(|e| TokenError::Signing(e.to_string()))?
        .into_parts();
    let signed = instructions.params();
    let value = |name: &'static str| {
        signed
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.as_ref())
            .ok_or_else(|| TokenError::Signing(format!("the signer returned no {name}")))
    };

    // botocore's order: operation parameters, then the signing parameters in the order
    // below, the session token last but one, and the signature appended at the end.
    let mut url = unsigned_url.clone();
    for name in [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
    ] {
        push_param(&mut url, name, value(name)?);
    }
    if credentials.session_token().is_some() {
        push_param(
            &mut url,
            "X-Amz-Security-Token",
            value("X-Amz-Security-Token")?,
        );
    }
    push_param(&mut url, "X-Amz-Signature", &signature);

    Ok(EksToken {
        token: format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(url)),
        signed_at,
        expires_at: signed_at + TOKEN_LIFETIME,
    })
}

/// Sign a token now with the credentials of `config` (which honour `--role-arn` and the
/// rest of the standard chain), for the region of `config`. The STS endpoint is
/// `AWS_ENDPOINT_URL_STS`, else `AWS_ENDPOINT_URL`, else the region's, as the AWS CLI does.
pub async fn generate(config: &SdkConfig, cluster_name: &str) -> Result<EksToken, Error> {
    let region = config.region().ok_or(TokenError::NoRegion)?;
    let provider = config
        .credentials_provider()
        .ok_or(TokenError::NoCredentialsProvider)?;
    let credentials = provider
        .provide_credentials()
        .await
        .map_err(TokenError::Credentials)?;
    let endpoint = sts_endpoint_from(|name| std::env::var(name).ok());
    let request = TokenRequest {
        cluster_name,
        region: region.as_ref(),
        sts_endpoint: endpoint.as_deref(),
    };
    Ok(presign(&credentials, &request, SystemTime::now())?)
}

/// The endpoint override the AWS CLI would use for STS, read through `var`.
fn sts_endpoint_from(var: impl Fn(&str) -> Option<String>) -> Option<String> {
    let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    if set("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return None;
    }
    set("AWS_ENDPOINT_URL_STS").or_else(|| set("AWS_ENDPOINT_URL"))
}

/// The regional STS host of `region` in `partition` (the partition names of
/// [`validate::region`]), as the SDKs' partition table has them.
fn sts_host(partition: &str, region: &str) -> String {
    let suffix = match partition {
        "aws-cn" => "amazonaws.com.cn",
        "aws-iso" => "c2s.ic.gov",
        "aws-iso-b" => "sc2s.sgov.gov",
        "aws-iso-e" => "cloud.adc-e.uk",
        "aws-iso-f" => "csp.hci.ic.gov",
        "aws-eusc" => "amazonaws.eu",
        // aws and aws-us-gov
        _ => "amazonaws.com",
    };
    format!("sts.{region}.{suffix}")
}

/// Scheme and `host[:port]` of an endpoint URL, as written: botocore copies them into the
/// URL unchanged. A path is refused: EKS accepts only `/`.
fn endpoint_origin(url: &str) -> Result<(&'static str, String), TokenError> {
    let bad = |reason| TokenError::Endpoint {
        url: url.to_owned(),
        reason,
    };
    let (scheme, rest) = if let Some(rest) = url.strip_prefix("https://") {
        ("https", rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        ("http", rest)
    } else {
        return Err(bad("expected http:// or https:// followed by a host"));
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if authority.is_empty() || !authority.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad("expected a host after the scheme"));
    }
    if authority.contains('@') {
        return Err(bad("user information is not allowed in the URL"));
    }
    if !tail.is_empty() && tail != "/" {
        return Err(bad(
            "a path, query or fragment is not allowed: EKS accepts only tokens for path /",
        ));
    }
    Ok((scheme, authority.to_owned()))
}

/// The `host` header botocore signs: lower-cased, without the scheme's default port.
fn signed_host(scheme: &str, authority: &str) -> String {
    let host = authority.to_ascii_lowercase();
    let default_port = if scheme == "https" { ":443" } else { ":80" };
    match host.strip_suffix(default_port) {
        Some(bare) => bare.to_owned(),
        None => host,
    }
}

/// Append `&name=value`, the value percent-encoded as botocore does (all but RFC 3986
/// unreserved characters).
fn push_param(url: &mut String, name: &str, value: &str) {
    url.push('&');
    url.push_str(name);
    url.push('=');
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            url.push(char::from(byte));
        } else {
            url.push_str(&format!("%{byte:02X}"));
        }
    }
}

/// `at` without its fraction of a second, as `X-Amz-Date` has it.
fn whole_seconds(at: SystemTime) -> SystemTime {
    match at.duration_since(UNIX_EPOCH) {
        Ok(since) => UNIX_EPOCH + Duration::from_secs(since.as_secs()),
        // Before 1970 no clock that signs tokens is; leave such an instant alone.
        Err(_) => at,
    }
}

/// RFC 3339 in UTC to the second; years outside 1..=9999 (which RFC 3339 cannot say)
/// fall back to seconds since the epoch.
fn rfc3339_seconds(at: SystemTime) -> String {
    let secs = DateTime::from(at).secs();
    DateTime::from_secs(secs)
        .fmt(Format::DateTime)
        .unwrap_or_else(|_| secs.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    use serde::Deserialize;

    /// One case of `fixtures/token/botocore.json`.
    #[derive(Debug, Deserialize)]
    struct BotocoreCase {
        name: String,
        region: String,
        cluster_name: String,
        sts_endpoint: Option<String>,
        access_key_id: String,
        secret_access_key: String,
        session_token: Option<String>,
        signed_at_unix: u64,
        expiration_timestamp: String,
        url: String,
        token: String,
    }

    #[derive(Debug, Deserialize)]
    struct Fixture {
        cases: Vec<BotocoreCase>,
    }

    fn fixture() -> Fixture {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/token/botocore.json"
        );
        let text = std::fs::read_to_string(path).expect("read the botocore fixture");
        serde_json::from_str(&text).expect("parse the botocore fixture")
    }

    fn credentials(akid: &str, secret: &str, session: Option<&str>) -> Credentials {
        Credentials::new(akid, secret, session.map(str::to_owned), None, "test")
    }

    fn at(unix: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(unix)
    }

    fn decode(token: &str) -> String {
        let body = token.strip_prefix(TOKEN_PREFIX).expect("prefix");
        String::from_utf8(URL_SAFE_NO_PAD.decode(body).expect("base64url")).expect("utf-8")
    }

    #[test]
    fn matches_botocore_byte_for_byte() {
        let fixture = fixture();
        assert!(fixture.cases.len() >= 5, "fixture has too few cases");
        for case in &fixture.cases {
            let creds = credentials(
                &case.access_key_id,
                &case.secret_access_key,
                case.session_token.as_deref(),
            );
            let request = TokenRequest {
                cluster_name: &case.cluster_name,
                region: &case.region,
                sts_endpoint: case.sts_endpoint.as_deref(),
            };
            let token = presign(&creds, &request, at(case.signed_at_unix))
                .unwrap_or_else(|e| panic!("{}: {e}", case.name));
            // The URL first: a difference there is readable; the token's is not.
            assert_eq!(decode(token.as_str()), case.url, "{}", case.name);
            assert_eq!(token.as_str(), case.token, "{}", case.name);
            assert_eq!(
                token.expiration_timestamp(),
                case.expiration_timestamp,
                "{}",
                case.name
            );
        }
    }

    #[test]
    fn fixture_covers_the_required_cases() {
        let cases = fixture().cases;
        let has = |pred: &dyn Fn(&BotocoreCase) -> bool| cases.iter().any(pred);
        assert!(has(
            &|c| c.region == "us-east-1" && c.session_token.is_some()
        ));
        assert!(has(
            &|c| c.region == "eu-west-1" && c.session_token.is_none()
        ));
        assert!(has(&|c| c
            .url
            .starts_with("https://sts.cn-north-1.amazonaws.com.cn/")));
        assert!(has(&|c| c
            .url
            .starts_with("https://sts.us-gov-west-1.amazonaws.com/")));
        assert!(has(
            &|c| c.cluster_name.contains('-') && c.cluster_name.contains('_')
        ));
        assert!(has(&|c| c.sts_endpoint.is_some()));
        assert!(has(&|c| c
            .url
            .starts_with("https://STS.Example.Internal:443/")));
    }

    #[test]
    fn sts_hosts_per_partition() {
        for (region, host) in [
            ("us-east-1", "sts.us-east-1.amazonaws.com"),
            ("cn-northwest-1", "sts.cn-northwest-1.amazonaws.com.cn"),
            ("us-gov-east-1", "sts.us-gov-east-1.amazonaws.com"),
            ("us-iso-west-1", "sts.us-iso-west-1.c2s.ic.gov"),
            ("us-isob-east-1", "sts.us-isob-east-1.sc2s.sgov.gov"),
            ("eu-isoe-west-1", "sts.eu-isoe-west-1.cloud.adc-e.uk"),
            ("us-isof-south-1", "sts.us-isof-south-1.csp.hci.ic.gov"),
            ("eusc-de-east-1", "sts.eusc-de-east-1.amazonaws.eu"),
        ] {
            let partition = validate::region("region", region).expect(region);
            assert_eq!(sts_host(partition, region), host);
        }
    }

    fn demo_request() -> TokenRequest<'static> {
        TokenRequest {
            cluster_name: "demo",
            region: "us-east-1",
            sts_endpoint: None,
        }
    }

    #[test]
    fn expiry_is_fourteen_minutes_after_the_whole_second() {
        let creds = credentials("AKIDEXAMPLE", "secret", None);
        let signed = UNIX_EPOCH + Duration::new(1_767_225_600, 999_000_000);
        let token = presign(&creds, &demo_request(), signed).expect("token");
        assert_eq!(token.signed_at, at(1_767_225_600));
        assert_eq!(token.expires_at, at(1_767_225_600 + 14 * 60));
        assert_eq!(token.expiration_timestamp(), "2026-01-01T00:14:00Z");
        assert!(decode(token.as_str()).contains("&X-Amz-Date=20260101T000000Z&"));
    }

    #[test]
    fn rfc3339_is_utc_to_the_second() {
        assert_eq!(rfc3339_seconds(at(0)), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339_seconds(UNIX_EPOCH + Duration::new(951_827_696, 500_000_000)),
            "2000-02-29T12:34:56Z"
        );
        assert_eq!(rfc3339_seconds(at(4_102_444_799)), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn debug_redacts_the_token() {
        let creds = credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG", Some("SESSIONTOKEN"));
        let token = presign(&creds, &demo_request(), at(1_767_225_600)).expect("token");
        let shown = format!("{token:?}");
        assert!(shown.contains("redacted"), "{shown}");
        assert!(shown.contains("2026-01-01T00:14:00Z"), "{shown}");
        for secret in [token.as_str(), TOKEN_PREFIX, "SESSIONTOKEN", "AKIDEXAMPLE"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }

    #[test]
    fn endpoint_override_replaces_scheme_host_and_port() {
        let creds = credentials("AKIDEXAMPLE", "secret", None);
        for (endpoint, origin) in [
            ("http://localhost:4566", "http://localhost:4566/?"),
            (
                "https://STS.Example.internal/",
                "https://STS.Example.internal/?",
            ),
        ] {
            let request = TokenRequest {
                sts_endpoint: Some(endpoint),
                ..demo_request()
            };
            let token = presign(&creds, &request, at(1_767_225_600)).expect(endpoint);
            let url = decode(token.as_str());
            assert!(url.starts_with(origin), "{url}");
        }
        for bad in [
            "localhost:4566",
            "https://",
            "https://host/path",
            "https://host?x=1",
            "https://user@host",
        ] {
            let request = TokenRequest {
                sts_endpoint: Some(bad),
                ..demo_request()
            };
            let err = presign(&creds, &request, at(0)).expect_err(bad);
            assert!(matches!(err, TokenError::Endpoint { .. }), "{bad}: {err}");
            assert!(err.to_string().starts_with("STS endpoint "), "{err}");
        }
    }

    #[test]
    fn endpoint_from_environment_in_aws_cli_order() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert_eq!(sts_endpoint_from(env(&[])), None);
        assert_eq!(
            sts_endpoint_from(env(&[("AWS_ENDPOINT_URL", "http://a")])).as_deref(),
            Some("http://a")
        );
        assert_eq!(
            sts_endpoint_from(env(&[
                ("AWS_ENDPOINT_URL", "http://a"),
                ("AWS_ENDPOINT_URL_STS", "http://sts")
            ]))
            .as_deref(),
            Some("http://sts")
        );
        assert_eq!(
            sts_endpoint_from(env(&[
                ("AWS_ENDPOINT_URL_STS", " "),
                ("AWS_ENDPOINT_URL", "http://a")
            ]))
            .as_deref(),
            Some("http://a")
        );
        assert_eq!(
            sts_endpoint_from(env(&[
                ("AWS_ENDPOINT_URL_STS", "http://sts"),
                ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
            ])),
            None
        );
    }

    #[test]
    fn bad_region_and_cluster_refused_without_secrets_in_the_message() {
        let creds = credentials("AKIDEXAMPLE", "SECRETKEY", Some("SESSIONTOKEN"));
        let cases = [
            TokenRequest {
                region: "mars-1",
                ..demo_request()
            },
            TokenRequest {
                cluster_name: "",
                ..demo_request()
            },
            TokenRequest {
                cluster_name: "two words",
                ..demo_request()
            },
        ];
        for request in cases {
            let err = presign(&creds, &request, at(0)).expect_err("refused");
            let shown = err.to_string();
            assert!(!shown.contains("SECRETKEY") && !shown.contains("SESSIONTOKEN"));
            assert!(matches!(
                Error::from(err),
                Error::Config(ref m) if m.starts_with("cannot sign an EKS token")
            ));
        }
    }

    #[test]
    fn credential_errors_map_by_cause() {
        let not_loaded = TokenError::Credentials(CredentialsError::not_loaded("no profile"));
        assert!(matches!(Error::from(not_loaded), Error::Config(_)));
        let timed_out =
            TokenError::Credentials(CredentialsError::provider_timed_out(Duration::from_secs(5)));
        let mapped = Error::from(timed_out);
        assert!(mapped.is_transient(), "{mapped:?}");
        assert!(
            mapped.to_string().contains("timed out after 5 seconds"),
            "{mapped}"
        );
    }

    #[tokio::test]
    async fn generate_uses_the_configured_provider_and_region() {
        let config = SdkConfig::builder()
            .region(aws_config::Region::new("eu-west-1"))
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(credentials(
                    "AKIDEXAMPLE",
                    "secret",
                    None,
                )),
            )
            .build();
        let token = generate(&config, "demo").await.expect("token");
        let url = decode(token.as_str());
        assert!(
            url.contains("X-Amz-Credential=AKIDEXAMPLE%2F")
                && url.contains("%2Feu-west-1%2Fsts%2F"),
            "{url}"
        );

        let no_region = SdkConfig::builder().build();
        let err = generate(&no_region, "demo").await.expect_err("no region");
        assert!(matches!(err, Error::Config(_)), "{err:?}");
    }
}
