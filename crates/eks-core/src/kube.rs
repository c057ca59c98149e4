//! A `kube::Client` for an EKS cluster that never goes stale: TLS verified against the
//! cluster's own CA, and authentication in-process with EKS tokens (no kubeconfig, no aws
//! CLI, no subprocess). The token is made before first use, replaced ahead of its expiry,
//! and on a 401 regenerated once and the request retried, so a pod followed for hours keeps
//! working where a client holding one token fails after 15 minutes.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use ::kube::client::{Body, ClientBuilder};
use base64::Engine;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tower::{BoxError, Layer, Service, ServiceExt};

use crate::error::Error;
use crate::token::{self, EksToken};

/// Replace a token this long before the time it reports as its expiry (which is already a
/// minute before EKS stops accepting it).
const REFRESH_AHEAD: Duration = Duration::from_secs(120);

/// Makes a fresh token; boxed so tests can hand in their own signer and clock.
pub type MakeToken =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<EksToken, Error>> + Send>> + Send + Sync>;

/// The current token, shared by every request of a client.
pub struct TokenProvider {
    make: MakeToken,
    current: tokio::sync::Mutex<Option<EksToken>>,
    refresh_ahead: Duration,
}

impl std::fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token itself.
        f.debug_struct("TokenProvider")
            .field("refresh_ahead", &self.refresh_ahead)
            .finish_non_exhaustive()
    }
}

impl TokenProvider {
    pub fn new(make: MakeToken) -> Self {
        TokenProvider {
            make,
            current: tokio::sync::Mutex::new(None),
            refresh_ahead: REFRESH_AHEAD,
        }
    }

    /// Tokens for `cluster_name` from the configuration's credentials (which the SDK refreshes
    /// on its own, e.g. an assumed role's session).
    pub fn for_cluster(config: aws_config::SdkConfig, cluster_name: String) -> Self {
        let config = Arc::new(config);
        let cluster_name = Arc::new(cluster_name);
        TokenProvider::new(Arc::new(move || {
            let (config, cluster_name) = (config.clone(), cluster_name.clone());
            Box::pin(async move { token::generate(&config, &cluster_name).await })
        }))
    }

    /// A token valid for a while yet: the cached one, or a new one when it is near expiry.
    pub async fn current(&self) -> Result<String, Error> {
        let mut current = self.current.lock().await;
        let fresh_enough = current.as_ref().is_some_and(|t| {
            t.expires_at
                .duration_since(SystemTime::now())
                .is_ok_and(|left| left > self.refresh_ahead)
        });
        if !fresh_enough {
            let token = (self.make)().await?;
            tracing::debug!(
                "new EKS token, valid until {}",
                token.expiration_timestamp()
            );
            *current = Some(token);
        }
        Ok(current
            .as_ref()
            .map(|t| t.as_str().to_owned())
            .unwrap_or_default())
    }

    /// The server refused `rejected`: make a new token, unless another request already did.
    pub async fn replace(&self, rejected: &str) -> Result<String, Error> {
        let mut current = self.current.lock().await;
        if let Some(token) = current.as_ref()
            && token.as_str() != rejected
        {
            return Ok(token.as_str().to_owned());
        }
        let token = (self.make)().await?;
        tracing::info!("the API server refused the EKS token; made a new one");
        *current = Some(token);
        Ok(current
            .as_ref()
            .map(|t| t.as_str().to_owned())
            .unwrap_or_default())
    }
}

/// Tower layer adding EKS authentication to a kube client's HTTP stack.
#[derive(Debug, Clone)]
pub struct EksAuthLayer {
    tokens: Arc<TokenProvider>,
}

impl EksAuthLayer {
    pub fn new(tokens: Arc<TokenProvider>) -> Self {
        EksAuthLayer { tokens }
    }
}

impl<S> Layer<S> for EksAuthLayer {
    type Service = EksAuth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        EksAuth {
            inner: Arc::new(tokio::sync::Mutex::new(inner)),
            tokens: self.tokens.clone(),
        }
    }
}

/// The service behind kube's client is not `Clone`, and a retry needs it twice: it is shared
/// behind a lock held only while a request is handed over, not while it is answered.
#[derive(Debug)]
pub struct EksAuth<S> {
    inner: Arc<tokio::sync::Mutex<S>>,
    tokens: Arc<TokenProvider>,
}

impl<S> Clone for EksAuth<S> {
    fn clone(&self) -> Self {
        EksAuth {
            inner: self.inner.clone(),
            tokens: self.tokens.clone(),
        }
    }
}

/// Wait until `inner` is ready and hand it `request`; the lock is released before the answer.
async fn send<S, B>(
    inner: &tokio::sync::Mutex<S>,
    request: Request<Body>,
) -> Result<Response<B>, BoxError>
where
    S: Service<Request<Body>, Response = Response<B>>,
    S::Error: Into<BoxError>,
{
    let response = {
        let mut service = inner.lock().await;
        service.ready().await.map_err(Into::into)?.call(request)
    };
    response.await.map_err(Into::into)
}

fn with_token(
    parts: &http::request::Parts,
    body: bytes::Bytes,
    token: &str,
) -> Result<Request<Body>, BoxError> {
    let mut request = Request::builder()
        .method(parts.method.clone())
        .uri(parts.uri.clone())
        .version(parts.version);
    if let Some(headers) = request.headers_mut() {
        *headers = parts.headers.clone();
        let mut value = HeaderValue::from_str(&format!("Bearer {token}"))?;
        value.set_sensitive(true);
        headers.insert(header::AUTHORIZATION, value);
    }
    Ok(request.body(Body::from(body))?)
}

impl<S, B> Service<Request<Body>> for EksAuth<S>
where
    S: Service<Request<Body>, Response = Response<B>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Send + 'static,
{
    type Response = Response<B>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Response<B>, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Readiness is awaited per request in `send`, under the lock.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let inner = self.inner.clone();
        let tokens = self.tokens.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            // Request bodies are small JSON documents; buffering lets a 401 be retried.
            let body = body.collect().await?.to_bytes();
            let token = tokens.current().await?;
            let response = send(&inner, with_token(&parts, body.clone(), &token)?).await?;
            if response.status() != StatusCode::UNAUTHORIZED {
                return Ok(response);
            }
            let token = tokens.replace(&token).await?;
            send(&inner, with_token(&parts, body, &token)?).await
        })
    }
}

/// The cluster's CA as EKS returns it (base64 of PEM), or PEM itself, to DER certificates.
pub fn ca_certificates(certificate_authority_data: &str) -> Result<Vec<Vec<u8>>, Error> {
    let trimmed = certificate_authority_data.trim();
    let pem = if trimmed.starts_with("-----BEGIN") {
        trimmed.as_bytes().to_vec()
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(trimmed)
            .map_err(|e| {
                Error::Internal(format!(
                    "the cluster's certificate authority data is not base64: {e}"
                ))
            })?
    };
    let certs: Vec<Vec<u8>> = CertificateDer::pem_slice_iter(&pem)
        .map(|c| c.map(|c| c.as_ref().to_vec()))
        .collect::<Result<_, _>>()
        .map_err(|e| {
            Error::Internal(format!(
                "the cluster's certificate authority is not a PEM certificate: {e}"
            ))
        })?;
    if certs.is_empty() {
        return Err(Error::Internal(
            "the cluster's certificate authority data holds no certificate".to_owned(),
        ));
    }
    Ok(certs)
}

/// Where and how to reach a cluster's API server.
#[derive(Debug, Clone)]
pub struct ClusterAccess {
    /// `https://...` from DescribeCluster.
    pub endpoint: String,
    /// `certificateAuthority.data` from DescribeCluster.
    pub certificate_authority_data: String,
    pub default_namespace: String,
}

/// A kube client for the cluster: TLS verified against its CA (there is no insecure option),
/// every request authenticated by `tokens`.
pub fn client(access: &ClusterAccess, tokens: Arc<TokenProvider>) -> Result<::kube::Client, Error> {
    let uri: http::Uri = access.endpoint.parse().map_err(|e| {
        Error::Internal(format!(
            "the cluster endpoint {:?} is not a URL: {e}",
            access.endpoint
        ))
    })?;
    if uri.scheme_str() != Some("https") {
        return Err(Error::Internal(format!(
            "the cluster endpoint {:?} is not https",
            access.endpoint
        )));
    }
    let mut config = ::kube::Config::new(uri);
    config.root_cert = Some(ca_certificates(&access.certificate_authority_data)?);
    config.accept_invalid_certs = false;
    config.default_namespace = access.default_namespace.clone();
    let builder = ClientBuilder::try_from(config).map_err(|e| {
        Error::Internal(format!(
            "cannot build the Kubernetes client: {}",
            crate::error::chain(&e)
        ))
    })?;
    Ok(builder.with_layer(&EksAuthLayer::new(tokens)).build())
}

/// Describe the cluster and build its client, authenticated with tokens from `config`.
pub async fn client_for_cluster(
    eks: &aws_sdk_eks::Client,
    config: &aws_config::SdkConfig,
    cluster_name: &str,
    default_namespace: &str,
) -> Result<::kube::Client, Error> {
    let cluster = crate::eks::describe_cluster(eks, cluster_name)
        .await?
        .ok_or_else(|| Error::Api {
            operation: "DescribeCluster",
            code: Some("ResourceNotFoundException".to_owned()),
            message: format!("No cluster found for name: {cluster_name}."),
            transient: false,
            source: "cluster not found".into(),
        })?;
    let status = cluster.status().map(|s| s.as_str()).unwrap_or_default();
    let (Some(endpoint), Some(ca)) = (
        cluster.endpoint(),
        cluster.certificate_authority().and_then(|c| c.data()),
    ) else {
        return Err(Error::ResourceFailed {
            resource: format!("cluster/{cluster_name}"),
            state: status.to_owned(),
            reason: Some("it has no API endpoint yet; wait until it is ACTIVE".to_owned()),
        });
    };
    let access = ClusterAccess {
        endpoint: endpoint.to_owned(),
        certificate_authority_data: ca.to_owned(),
        default_namespace: default_namespace.to_owned(),
    };
    client(
        &access,
        Arc::new(TokenProvider::for_cluster(
            config.clone(),
            cluster_name.to_owned(),
        )),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counting_maker(lifetime: Duration) -> (MakeToken, Arc<std::sync::atomic::AtomicUsize>) {
        let made = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = made.clone();
        let make: MakeToken = Arc::new(move || {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Box::pin(async move {
                let now = SystemTime::now();
                Ok(EksToken::from_parts(
                    format!("k8s-aws-v1.{n}"),
                    now,
                    now + lifetime,
                ))
            })
        });
        (make, made)
    }

    #[tokio::test]
    async fn a_token_is_reused_until_it_nears_expiry() {
        let (make, made) = counting_maker(Duration::from_secs(14 * 60));
        let tokens = TokenProvider::new(make);
        let first = tokens.current().await.expect("token");
        assert_eq!(tokens.current().await.expect("token"), first);
        assert_eq!(made.load(std::sync::atomic::Ordering::SeqCst), 1);
        // Refused: a new one, once, however many requests saw the refusal.
        let second = tokens.replace(&first).await.expect("token");
        assert_ne!(second, first);
        assert_eq!(tokens.replace(&first).await.expect("token"), second);
        assert_eq!(made.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_token_close_to_expiry_is_replaced_before_use() {
        // Less than REFRESH_AHEAD left from the start: every use needs a new one.
        let (make, made) = counting_maker(Duration::from_secs(60));
        let tokens = TokenProvider::new(make);
        let a = tokens.current().await.expect("token");
        let b = tokens.current().await.expect("token");
        assert_ne!(a, b);
        assert_eq!(made.load(std::sync::atomic::Ordering::SeqCst), 2);
        assert!(
            !format!("{tokens:?}").contains("k8s-aws-v1"),
            "Debug must not show the token"
        );
    }

    #[test]
    fn ca_data_must_be_a_certificate() {
        assert!(ca_certificates("not base64!").is_err());
        let b64_of_text = base64::engine::general_purpose::STANDARD.encode("hello");
        let err = ca_certificates(&b64_of_text)
            .expect_err("no certificate")
            .to_string();
        assert!(err.contains("no certificate"), "{err}");
    }
}
