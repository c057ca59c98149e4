//! Wire-level pieces of the fake EKS API: error responses as EKS sends them, the opaque
//! pagination token, identifiers, timestamps, and small encoders kept here so the crate
//! needs no extra dependencies.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

/// An error response in the REST-JSON shape EKS uses: HTTP status, `x-amzn-errortype`
/// header and a JSON body with `message` plus the resource-name fields the error carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) status: u16,
    pub(crate) code: &'static str,
    pub(crate) message: String,
    /// Extra body fields such as `clusterName`, in the order EKS writes them.
    pub(crate) fields: Vec<(&'static str, String)>,
}

impl ApiError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            fields: Vec::new(),
        }
    }

    pub(crate) fn with(mut self, field: &'static str, value: &str) -> Self {
        self.fields.push((field, value.to_owned()));
        self
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "ResourceNotFoundException", message)
    }

    pub(crate) fn in_use(message: impl Into<String>) -> Self {
        Self::new(409, "ResourceInUseException", message)
    }

    pub(crate) fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(400, "InvalidParameterException", message)
    }

    pub(crate) fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(400, "InvalidRequestException", message)
    }

    pub(crate) fn throttling() -> Self {
        Self::new(429, "ThrottlingException", "Rate exceeded")
    }

    pub(crate) fn server() -> Self {
        Self::new(
            500,
            "ServerException",
            "An internal error occurred in the fake EKS service (injected fault).",
        )
    }

    pub(crate) fn unavailable() -> Self {
        Self::new(
            503,
            "ServiceUnavailableException",
            "The service is unavailable. Try again later (injected fault).",
        )
    }

    pub(crate) fn unknown_operation(method: &str, path: &str) -> Self {
        Self::new(
            404,
            "UnknownOperationException",
            format!(
                "The fake EKS API has no operation for {method} {path}; it implements only \
                 clusters, node-groups and fargate-profiles (create, describe, list, delete)."
            ),
        )
    }

    pub(crate) fn body(&self) -> Value {
        let mut body = Map::new();
        for (field, value) in &self.fields {
            body.insert((*field).to_owned(), Value::String(value.clone()));
        }
        body.insert("message".to_owned(), Value::String(self.message.clone()));
        Value::Object(body)
    }
}

/// Encodes a pagination position as an opaque token: the list it belongs to and the last
/// name returned, hex-encoded so that clients cannot read meaning into it.
pub(crate) fn encode_next_token(list: &str, last_name: &str) -> String {
    // A newline cannot occur in a list id or a resource name, so it separates the two.
    hex_encode(format!("{list}\n{last_name}").as_bytes())
}

/// Reverses [`encode_next_token`]; `None` for a token this fake did not issue for `list`.
pub(crate) fn decode_next_token(list: &str, token: &str) -> Option<String> {
    let bytes = hex_decode(token)?;
    let text = String::from_utf8(bytes).ok()?;
    let (token_list, last_name) = text.split_once('\n')?;
    (token_list == list).then(|| last_name.to_owned())
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    if text.is_empty() || !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Decodes `%XX` escapes in one URL path segment (clients URL-encode path parameters).
pub(crate) fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| segment.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Standard base64 with padding, as EKS encodes `certificateAuthority.data`.
pub(crate) fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let byte = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let triple = (byte(0) << 16) | (byte(1) << 8) | byte(2);
        for position in 0..4 {
            if position <= chunk.len() {
                let index = (triple >> (18 - 6 * position)) & 0x3f;
                out.push(char::from(ALPHABET[index as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A timestamp as the REST-JSON protocol sends it: epoch seconds, millisecond precision.
pub(crate) fn epoch_seconds(at: SystemTime) -> Value {
    let since_epoch = at.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let millis = u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX);
    // Whole milliseconds keep the float exact enough that clients parse the same instant back.
    #[allow(clippy::cast_precision_loss)]
    let seconds = millis as f64 / 1000.0;
    Value::from(seconds)
}

/// Source of the random-looking identifiers EKS puts in ARNs, endpoints and resource ids.
/// SplitMix64: no dependency, and unique enough for one fake's lifetime.
#[derive(Debug)]
pub(crate) struct IdSource {
    state: u64,
}

impl IdSource {
    pub(crate) fn new() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_nanos();
        // Folding in the high bits keeps fakes started in the same nanosecond apart.
        let seed = (nanos as u64) ^ ((nanos >> 64) as u64) ^ u64::from(std::process::id());
        Self { state: seed }
    }

    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A version-4-shaped UUID, as in nodegroup ARNs and request ids.
    pub(crate) fn uuid(&mut self) -> String {
        let high = self.next();
        let low = self.next();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            high >> 32,
            (high >> 16) & 0xffff,
            high & 0x0fff,
            ((low >> 48) & 0x3fff) | 0x8000,
            low & 0xffff_ffff_ffff
        )
    }

    /// 32 upper-case hex digits, as in the cluster endpoint host and OIDC issuer id.
    pub(crate) fn upper_hex32(&mut self) -> String {
        format!("{:016X}{:016X}", self.next(), self.next())
    }

    /// An EC2-style id such as `sg-0123456789abcdef0` (17 hex digits).
    pub(crate) fn ec2_id(&mut self, prefix: &str) -> String {
        format!("{prefix}-0{:016x}", self.next())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in vectors {
            assert_eq!(base64_encode(plain.as_bytes()), encoded, "input {plain:?}");
        }
    }

    #[test]
    fn next_token_round_trips_and_rejects_foreign_tokens() {
        let token = encode_next_token("clusters", "prod-1");
        assert_eq!(
            decode_next_token("clusters", &token).as_deref(),
            Some("prod-1")
        );
        assert_eq!(decode_next_token("nodegroups/prod", &token), None);
        let nested = encode_next_token("nodegroups/prod", "ng-1");
        assert_eq!(
            decode_next_token("nodegroups/prod", &nested).as_deref(),
            Some("ng-1")
        );
        assert_eq!(decode_next_token("nodegroups/other", &nested), None);
        assert_eq!(decode_next_token("clusters", "not-a-token"), None);
        assert_eq!(decode_next_token("clusters", "abc"), None);
        assert_eq!(decode_next_token("clusters", ""), None);
    }

    #[test]
    fn percent_decode_handles_escapes_and_stray_percent() {
        assert_eq!(percent_decode("my%2Dcluster"), "my-cluster");
        assert_eq!(percent_decode("a%2Fb"), "a/b");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }

    #[test]
    fn ids_have_the_shapes_eks_uses() {
        let mut ids = IdSource::new();
        let uuid = ids.uuid();
        let groups: Vec<usize> = uuid.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "{uuid}");
        let hex = ids.upper_hex32();
        assert_eq!(hex.len(), 32);
        assert!(
            hex.chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        );
        assert_eq!(ids.ec2_id("sg").len(), "sg-".len() + 17);
        assert_ne!(ids.uuid(), ids.uuid());
    }

    #[test]
    fn epoch_seconds_keeps_milliseconds() {
        let at = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(epoch_seconds(at), Value::from(1_700_000_000.123));
    }
}
