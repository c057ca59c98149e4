//! A fake of EKS's token authenticator, so that tests can prove a bearer token would be
//! accepted without reaching AWS.
//!
//! [`Authenticator::verify`] applies the checks of aws-iam-authenticator's `Verify`
//! (`pkg/token/token.go`) in its order: at most 4096 bytes, the `k8s-aws-v1.` prefix,
//! unpadded base64url (the real one decodes with Go's `RawURLEncoding`, which refuses
//! `=` padding), an `https` URL to an STS host of the partition, path `/`, only the
//! presigning query parameters and each once, `Action=GetCallerIdentity`, `x-k8s-aws-id`
//! among the signed headers, `X-Amz-Expires` in 0..=900 and an `X-Amz-Date` within the
//! token lifetime. Where the real authenticator then replays the URL to STS, this fake
//! does what STS would: it checks the credential scope (date, region, service `sts`), looks
//! the access key up among the test credentials, and recomputes the SigV4 signature with
//! the configured cluster name as `x-k8s-aws-id` and the SHA-256 of the empty body, as
//! botocore signs it. So a token for another cluster, like a tampered one, fails as a
//! signature mismatch: the cluster name is only in the signature, as with STS.
//!
//! Stricter than EKS on purpose: the credential scope's region must be the cluster's
//! (EKS accepts any region's STS endpoint; every peer signs for the cluster's region),
//! a future `X-Amz-Date` beyond a small skew is refused (STS refuses it), and signatures
//! over `UNSIGNED-PAYLOAD` are not accepted.
//!
//! The signature is recomputed here with aws-lc-rs, independently of eks-core's signer,
//! so that the tests are a real check of what eks-core produces.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::{constant_time, digest, hmac};
use base64::Engine as _;
use base64::alphabet::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

const TOKEN_PREFIX: &str = "k8s-aws-v1.";
const MAX_TOKEN_BYTES: usize = 4096;
const CLUSTER_ID_HEADER: &str = "x-k8s-aws-id";
/// The longest `X-Amz-Expires` the real authenticator accepts (15 minutes).
const MAX_EXPIRES_SECS: u64 = 900;
const EMPTY_BODY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The query parameters the real authenticator allows (it compares them lower-cased).
const ALLOWED_PARAMETERS: &[&str] = &[
    "action",
    "version",
    "x-amz-algorithm",
    "x-amz-credential",
    "x-amz-date",
    "x-amz-expires",
    "x-amz-security-token",
    "x-amz-signature",
    "x-amz-signedheaders",
];

/// Go's `base64.RawURLEncoding`: no padding accepted, stray low bits tolerated.
const RAW_URL: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// What the fake authenticates: one cluster, its region, and the test credentials STS
/// would know.
#[derive(Clone)]
pub struct AuthenticatorConfig {
    pub cluster_name: String,
    /// The cluster's region; it picks the partition and the STS hosts accepted.
    pub region: String,
    /// `(access key id, secret access key)` pairs, as STS would know them.
    pub credentials: Vec<(String, String)>,
    /// How long after `X-Amz-Date` a token is accepted: 15 minutes at STS.
    pub token_lifetime: Duration,
    /// How far in the future `X-Amz-Date` may be, for clocks that disagree.
    pub max_clock_skew: Duration,
    /// Hosts accepted besides the partition's STS hosts, as `host` or `host:port`
    /// (e.g. `127.0.0.1:8443` for a token signed against a local endpoint).
    pub allowed_hosts: Vec<String>,
    /// Account of the identity returned on success.
    pub account_id: String,
    /// Role of the identity returned on success (`assumed-role/ROLE/SESSION`).
    pub role_name: String,
}

impl AuthenticatorConfig {
    /// A cluster in `region` with no credentials yet, a 15-minute lifetime, 5 minutes
    /// of skew and the account `123456789012`.
    pub fn new(cluster_name: impl Into<String>, region: impl Into<String>) -> Self {
        AuthenticatorConfig {
            cluster_name: cluster_name.into(),
            region: region.into(),
            credentials: Vec::new(),
            token_lifetime: Duration::from_secs(15 * 60),
            max_clock_skew: Duration::from_secs(5 * 60),
            allowed_hosts: Vec::new(),
            account_id: "123456789012".to_owned(),
            role_name: "eks-operators-test".to_owned(),
        }
    }

    /// Add a credential STS would know.
    pub fn with_credential(
        mut self,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
    ) -> Self {
        self.credentials
            .push((access_key_id.into(), secret_access_key.into()));
        self
    }
}

impl fmt::Debug for AuthenticatorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<&str> = self.credentials.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("AuthenticatorConfig")
            .field("cluster_name", &self.cluster_name)
            .field("region", &self.region)
            .field("access_key_ids", &keys)
            .field("token_lifetime", &self.token_lifetime)
            .field("max_clock_skew", &self.max_clock_skew)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("account_id", &self.account_id)
            .field("role_name", &self.role_name)
            .finish()
    }
}

/// Who signed an accepted token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE/ACCESS_KEY_ID`, built from the config.
    pub arn: String,
    pub account_id: String,
    pub access_key_id: String,
    /// The host the token was signed for, with its port if any.
    pub sts_host: String,
}

/// Why a token was refused. Display is one line and never shows the token or a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("token is {len} bytes, over the {MAX_TOKEN_BYTES}-byte limit")]
    TooLarge { len: usize },
    #[error("token does not start with {TOKEN_PREFIX:?}")]
    MissingPrefix,
    #[error("token is not unpadded base64url: {reason}")]
    BadBase64 { reason: String },
    #[error("token does not hold a URL: {reason}")]
    BadUrl { reason: String },
    #[error("unexpected scheme {scheme:?} in the presigned URL: https is required")]
    NotHttps { scheme: String },
    #[error("unexpected host {host:?} in the presigned URL: not an STS host of the partition")]
    UnexpectedHost { host: String },
    #[error("unexpected path {path:?} in the presigned URL: / is required")]
    UnexpectedPath { path: String },
    #[error("query parameter {name:?} is not allowed in the presigned URL")]
    UnexpectedParameter { name: String },
    #[error("query parameter {name:?} appears more than once in the presigned URL")]
    DuplicateParameter { name: String },
    #[error("query parameter {name} is missing from the presigned URL")]
    MissingParameter { name: &'static str },
    #[error("unexpected action {action:?} in the presigned URL: GetCallerIdentity is required")]
    WrongAction { action: String },
    #[error("unexpected version {version:?} in the presigned URL: 2011-06-15 is required")]
    WrongVersion { version: String },
    #[error("unsupported signing algorithm {algorithm:?}: {ALGORITHM} is required")]
    UnsupportedAlgorithm { algorithm: String },
    #[error("the client did not sign the {CLUSTER_ID_HEADER} header (signed: {signed_headers:?})")]
    ClusterIdNotSigned { signed_headers: String },
    #[error("signed header {name:?} is not one the authenticator sends to STS")]
    UnexpectedSignedHeader { name: String },
    #[error("invalid X-Amz-Expires {value:?}: 0 to {MAX_EXPIRES_SECS} seconds is required")]
    BadExpires { value: String },
    #[error("invalid X-Amz-Date {value:?}: YYYYMMDDTHHMMSSZ is required")]
    BadDate { value: String },
    #[error("token signed at {signed_at} has expired ({}s lifetime)", lifetime.as_secs())]
    Expired {
        signed_at: String,
        lifetime: Duration,
    },
    #[error("token signed at {signed_at} is dated in the future (more than {}s ahead)", skew.as_secs())]
    FutureDated { signed_at: String, skew: Duration },
    #[error("invalid credential scope {scope:?}: {reason}")]
    BadCredentialScope { scope: String, reason: &'static str },
    #[error("token is signed for region {found:?}, not the cluster's region {expected:?}")]
    WrongRegion { expected: String, found: String },
    #[error("token is signed for service {service:?}, not sts")]
    WrongService { service: String },
    #[error("access key {access_key_id:?} is unknown")]
    UnknownAccessKey { access_key_id: String },
    #[error(
        "signature does not match for cluster {cluster_name:?}: signed for another cluster, key or request, or altered"
    )]
    SignatureMismatch { cluster_name: String },
}

type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Verifies EKS bearer tokens for one cluster. Cheap to clone and share with a server.
#[derive(Clone)]
pub struct Authenticator {
    config: Arc<AuthenticatorConfig>,
    sts_hosts: Arc<HashSet<String>>,
    partition: &'static str,
    clock: Clock,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("config", &self.config)
            .field("partition", &self.partition)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    pub fn new(config: AuthenticatorConfig) -> Self {
        let partition = Partition::of_region(&config.region);
        let mut sts_hosts: HashSet<String> = partition.sts_hosts(&config.region).collect();
        // Hosts compare as the URL parser gives them: lower-cased, without port 443.
        sts_hosts.extend(config.allowed_hosts.iter().map(|h| {
            let host = h.to_ascii_lowercase();
            host.strip_suffix(":443").map(str::to_owned).unwrap_or(host)
        }));
        Authenticator {
            partition: partition.name,
            config: Arc::new(config),
            sts_hosts: Arc::new(sts_hosts),
            clock: Arc::new(SystemTime::now),
        }
    }

    /// Use `clock` for "now" instead of the system clock.
    pub fn with_clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    pub fn config(&self) -> &AuthenticatorConfig {
        &self.config
    }

    /// Accept `bearer` (the token, without `Bearer `) or say why not.
    pub fn verify(&self, bearer: &str) -> Result<Identity, Rejection> {
        if bearer.len() > MAX_TOKEN_BYTES {
            return Err(Rejection::TooLarge { len: bearer.len() });
        }
        let encoded = bearer
            .strip_prefix(TOKEN_PREFIX)
            .ok_or(Rejection::MissingPrefix)?;
        let decoded = RAW_URL.decode(encoded).map_err(|e| Rejection::BadBase64 {
            reason: e.to_string(),
        })?;
        let text = String::from_utf8(decoded).map_err(|_| Rejection::BadUrl {
            reason: "not UTF-8".to_owned(),
        })?;
        let url = url::Url::parse(&text).map_err(|e| Rejection::BadUrl {
            reason: e.to_string(),
        })?;

        if url.scheme() != "https" {
            return Err(Rejection::NotHttps {
                scheme: url.scheme().to_owned(),
            });
        }
        let host = match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => {
                return Err(Rejection::BadUrl {
                    reason: "no host".to_owned(),
                });
            }
        };
        if !self.sts_hosts.contains(&host) {
            return Err(Rejection::UnexpectedHost { host });
        }
        if url.path() != "/" {
            return Err(Rejection::UnexpectedPath {
                path: url.path().to_owned(),
            });
        }

        let query = Query::parse(&url)?;
        let action = query.get("action").unwrap_or_default();
        if action != "GetCallerIdentity" {
            return Err(Rejection::WrongAction {
                action: action.to_owned(),
            });
        }
        let signed_headers = query.get("x-amz-signedheaders").unwrap_or_default();
        if !signed_headers
            .split(';')
            .any(|h| h.eq_ignore_ascii_case(CLUSTER_ID_HEADER))
        {
            return Err(Rejection::ClusterIdNotSigned {
                signed_headers: signed_headers.to_owned(),
            });
        }
        let expires = query.get("x-amz-expires").unwrap_or_default();
        if !expires.parse::<u64>().is_ok_and(|s| s <= MAX_EXPIRES_SECS) {
            return Err(Rejection::BadExpires {
                value: expires.to_owned(),
            });
        }
        let date = query.require("x-amz-date", "X-Amz-Date")?;
        let signed_at = parse_amz_date(date).ok_or_else(|| Rejection::BadDate {
            value: date.to_owned(),
        })?;
        let now = (self.clock)();
        if now > signed_at + self.config.token_lifetime {
            return Err(Rejection::Expired {
                signed_at: date.to_owned(),
                lifetime: self.config.token_lifetime,
            });
        }
        if signed_at > now + self.config.max_clock_skew {
            return Err(Rejection::FutureDated {
                signed_at: date.to_owned(),
                skew: self.config.max_clock_skew,
            });
        }

        // From here on, what STS would check when the authenticator replays the URL.
        let version = query.require("version", "Version")?;
        if version != "2011-06-15" {
            return Err(Rejection::WrongVersion {
                version: version.to_owned(),
            });
        }
        let algorithm = query.require("x-amz-algorithm", "X-Amz-Algorithm")?;
        if algorithm != ALGORITHM {
            return Err(Rejection::UnsupportedAlgorithm {
                algorithm: algorithm.to_owned(),
            });
        }
        let scope = query.require("x-amz-credential", "X-Amz-Credential")?;
        let scope = CredentialScope::parse(scope, date)?;
        if scope.region != self.config.region {
            return Err(Rejection::WrongRegion {
                expected: self.config.region.clone(),
                found: scope.region.to_owned(),
            });
        }
        if scope.service != "sts" {
            return Err(Rejection::WrongService {
                service: scope.service.to_owned(),
            });
        }
        let secret = self
            .config
            .credentials
            .iter()
            .find(|(akid, _)| akid == scope.access_key_id)
            .map(|(_, secret)| secret.as_str())
            .ok_or_else(|| Rejection::UnknownAccessKey {
                access_key_id: scope.access_key_id.to_owned(),
            })?;
        let signature = query.require("x-amz-signature", "X-Amz-Signature")?;

        let canonical_headers = self.canonical_headers(signed_headers, &host)?;
        let canonical_request = format!(
            "GET\n/\n{}\n{canonical_headers}\n{}\n{EMPTY_BODY_SHA256}",
            query.canonical(),
            signed_headers.to_ascii_lowercase(),
        );
        let string_to_sign = format!(
            "{ALGORITHM}\n{date}\n{}/{}/{}/aws4_request\n{}",
            scope.date,
            scope.region,
            scope.service,
            hex(digest::digest(&digest::SHA256, canonical_request.as_bytes()).as_ref()),
        );
        let expected = hex(&signing_hmac(secret, &scope, &string_to_sign));
        if constant_time::verify_slices_are_equal(expected.as_bytes(), signature.as_bytes())
            .is_err()
        {
            return Err(Rejection::SignatureMismatch {
                cluster_name: self.config.cluster_name.clone(),
            });
        }

        Ok(Identity {
            arn: format!(
                "arn:{}:sts::{}:assumed-role/{}/{}",
                self.partition, self.config.account_id, self.config.role_name, scope.access_key_id
            ),
            account_id: self.config.account_id.clone(),
            access_key_id: scope.access_key_id.to_owned(),
            sts_host: host,
        })
    }

    /// The canonical headers of the request the authenticator sends to STS: `host` and
    /// its own cluster name as `x-k8s-aws-id`. A token that signed any other header would
    /// fail at STS, which does not receive it.
    fn canonical_headers(&self, signed_headers: &str, host: &str) -> Result<String, Rejection> {
        let mut out = String::new();
        for name in signed_headers.split(';') {
            let value = match name.to_ascii_lowercase().as_str() {
                "host" => host,
                CLUSTER_ID_HEADER => self.config.cluster_name.as_str(),
                _ => {
                    return Err(Rejection::UnexpectedSignedHeader {
                        name: name.to_owned(),
                    });
                }
            };
            out.push_str(&name.to_ascii_lowercase());
            out.push(':');
            out.push_str(value.trim());
            out.push('\n');
        }
        Ok(out)
    }
}

/// The query of the presigned URL, decoded, in order.
struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Decode the query and apply the real authenticator's rules: only allowed names,
    /// each once regardless of case.
    fn parse(url: &url::Url) -> Result<Self, Rejection> {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let mut seen = HashSet::new();
        for (name, _) in &pairs {
            let lower = name.to_ascii_lowercase();
            if !ALLOWED_PARAMETERS.contains(&lower.as_str()) {
                return Err(Rejection::UnexpectedParameter { name: name.clone() });
            }
            if !seen.insert(lower) {
                return Err(Rejection::DuplicateParameter { name: name.clone() });
            }
        }
        Ok(Query { pairs })
    }

    fn get(&self, lower_name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(lower_name))
            .map(|(_, v)| v.as_str())
    }

    fn require(&self, lower_name: &str, name: &'static str) -> Result<&str, Rejection> {
        self.get(lower_name)
            .ok_or(Rejection::MissingParameter { name })
    }

    /// SigV4's canonical query string: every parameter but the signature, names and
    /// values URI-encoded, sorted.
    fn canonical(&self) -> String {
        let mut encoded: Vec<(String, String)> = self
            .pairs
            .iter()
            .filter(|(k, _)| k != "X-Amz-Signature")
            .map(|(k, v)| (uri_encode(k), uri_encode(v)))
            .collect();
        encoded.sort();
        let joined: Vec<String> = encoded
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        joined.join("&")
    }
}

/// `ACCESS_KEY_ID/YYYYMMDD/REGION/SERVICE/aws4_request`.
struct CredentialScope<'a> {
    access_key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
}

impl<'a> CredentialScope<'a> {
    fn parse(scope: &'a str, amz_date: &str) -> Result<Self, Rejection> {
        let bad = |reason| Rejection::BadCredentialScope {
            scope: scope.to_owned(),
            reason,
        };
        let parts: Vec<&str> = scope.split('/').collect();
        let [access_key_id, date, region, service, terminator] = parts[..] else {
            return Err(bad(
                "expected ACCESS_KEY_ID/YYYYMMDD/REGION/SERVICE/aws4_request",
            ));
        };
        if terminator != "aws4_request" {
            return Err(bad("it must end with aws4_request"));
        }
        if access_key_id.is_empty() {
            return Err(bad("no access key id"));
        }
        if !amz_date.starts_with(date) || date.len() != 8 {
            return Err(bad("its date is not the day of X-Amz-Date"));
        }
        Ok(CredentialScope {
            access_key_id,
            date,
            region,
            service,
        })
    }
}

/// SigV4's HMAC chain: the signing key of the scope, then the signature of the string.
fn signing_hmac(secret: &str, scope: &CredentialScope<'_>, string_to_sign: &str) -> Vec<u8> {
    let step = |key: &[u8], data: &str| {
        hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data.as_bytes())
    };
    let k_date = step(format!("AWS4{secret}").as_bytes(), scope.date);
    let k_region = step(k_date.as_ref(), scope.region);
    let k_service = step(k_region.as_ref(), scope.service);
    let k_signing = step(k_service.as_ref(), "aws4_request");
    step(k_signing.as_ref(), string_to_sign).as_ref().to_vec()
}

/// SigV4's URI encoding: RFC 3986 unreserved characters kept, every other byte `%XX`.
fn uri_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `YYYYMMDDTHHMMSSZ` as an instant.
fn parse_amz_date(value: &str) -> Option<SystemTime> {
    let b = value.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        let s = value.get(range)?;
        if !s.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    let (year, month, day) = (digits(0..4)?, digits(4..6)?, digits(6..8)?);
    let (hour, minute, second) = (digits(9..11)?, digits(11..13)?, digits(13..15)?);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let valid = (1..=12).contains(&month)
        && day >= 1
        && day <= month_days[usize::try_from(month - 1).ok()?]
        && hour < 24
        && minute < 60
        && second < 60;
    if !valid {
        return None;
    }
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// An AWS partition as the SDKs' partition table describes it.
struct Partition {
    name: &'static str,
    dns_suffix: &'static str,
    dual_stack_suffix: &'static str,
}

impl Partition {
    fn of_region(region: &str) -> Self {
        let (name, dns_suffix, dual_stack_suffix) = if region.starts_with("cn-") {
            ("aws-cn", "amazonaws.com.cn", "api.amazonwebservices.com.cn")
        } else if region.starts_with("us-gov-") {
            ("aws-us-gov", "amazonaws.com", "api.aws")
        } else if region.starts_with("us-iso-") {
            ("aws-iso", "c2s.ic.gov", "api.aws.ic.gov")
        } else if region.starts_with("us-isob-") {
            ("aws-iso-b", "sc2s.sgov.gov", "api.aws.scloud")
        } else if region.starts_with("eu-isoe-") {
            ("aws-iso-e", "cloud.adc-e.uk", "api.cloud-aws.adc-e.uk")
        } else if region.starts_with("us-isof-") {
            ("aws-iso-f", "csp.hci.ic.gov", "api.aws.hci.ic.gov")
        } else if region.starts_with("eusc-") {
            ("aws-eusc", "amazonaws.eu", "api.amazonwebservices.eu")
        } else {
            ("aws", "amazonaws.com", "api.aws")
        };
        Partition {
            name,
            dns_suffix,
            dual_stack_suffix,
        }
    }

    /// The STS hosts of `region`: regional, FIPS and dual-stack, and the global endpoint
    /// of the aws partition (signed for us-east-1).
    fn sts_hosts(&self, region: &str) -> impl Iterator<Item = String> {
        let mut hosts = vec![
            format!("sts.{region}.{}", self.dns_suffix),
            format!("sts-fips.{region}.{}", self.dns_suffix),
            format!("sts.{region}.{}", self.dual_stack_suffix),
            format!("sts-fips.{region}.{}", self.dual_stack_suffix),
        ];
        if self.name == "aws" {
            hosts.push("sts.amazonaws.com".to_owned());
        }
        hosts.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amz_dates() {
        let at = |secs| Some(UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(parse_amz_date("19700101T000000Z"), at(0));
        assert_eq!(parse_amz_date("20260101T000000Z"), at(1_767_225_600));
        assert_eq!(parse_amz_date("20240229T235959Z"), at(1_709_251_199));
        for bad in [
            "",
            "20260101T000000",
            "20260101 000000Z",
            "20260230T000000Z",
            "20251301T000000Z",
            "20260101T240000Z",
            "2026010AT000000Z",
            "+0260101T000000Z",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn uri_encoding_keeps_only_unreserved() {
        assert_eq!(uri_encode("aZ09-_.~"), "aZ09-_.~");
        assert_eq!(uri_encode("a/b+c=d;e f"), "a%2Fb%2Bc%3Dd%3Be%20f");
        assert_eq!(uri_encode("é"), "%C3%A9");
    }

    #[test]
    fn partitions() {
        let hosts = |region| {
            Partition::of_region(region)
                .sts_hosts(region)
                .collect::<Vec<_>>()
        };
        assert!(hosts("us-east-1").contains(&"sts.amazonaws.com".to_owned()));
        assert!(hosts("cn-north-1").contains(&"sts.cn-north-1.amazonaws.com.cn".to_owned()));
        assert!(!hosts("cn-north-1").contains(&"sts.amazonaws.com".to_owned()));
        assert!(hosts("us-gov-west-1").contains(&"sts.us-gov-west-1.amazonaws.com".to_owned()));
        assert!(
            hosts("us-isof-south-1").contains(&"sts.us-isof-south-1.csp.hci.ic.gov".to_owned())
        );
        assert!(hosts("eusc-de-east-1").contains(&"sts.eusc-de-east-1.amazonaws.eu".to_owned()));
    }

    #[test]
    fn debug_hides_secrets() {
        let config =
            AuthenticatorConfig::new("demo", "us-east-1").with_credential("AKID", "SECRET");
        let shown = format!("{:?}", Authenticator::new(config));
        assert!(
            shown.contains("AKID") && !shown.contains("SECRET"),
            "{shown}"
        );
    }
}
