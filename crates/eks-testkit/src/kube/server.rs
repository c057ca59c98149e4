//! The network side of the fake: accepting TLS connections, serving HTTP/1.1 on each, and
//! for every request authenticating the bearer token, routing it, recording it, and writing
//! the answer with the headers a Kubernetes API server sends.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, HeaderMap, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use super::api::{self, ApiRequest};
use super::state::State;
use super::wire::ApiError;
use super::{KubeCall, TokenVerifier, lock};

/// Accepts connections until aborted; aborting it drops `connections`, which aborts them all.
pub(super) async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    state: Arc<Mutex<State>>,
    verifier: Arc<dyn TokenVerifier>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_connection(
                        stream,
                        acceptor.clone(),
                        Arc::clone(&state),
                        Arc::clone(&verifier),
                    ));
                }
                // Out of file descriptors and the like: pause rather than spin, then go on.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            },
            // Reap finished connections so the set does not grow for the fake's lifetime.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve_connection(
    stream: TcpStream,
    acceptor: TlsAcceptor,
    state: Arc<Mutex<State>>,
    verifier: Arc<dyn TokenVerifier>,
) {
    // A client that does not trust the CA aborts the handshake: its error is the test's
    // evidence, so there is nothing to do here.
    let Ok(tls) = acceptor.accept(stream).await else {
        return;
    };
    let service = service_fn(move |request| {
        let response = respond(&state, verifier.as_ref(), &request);
        async move { Ok::<_, Infallible>(response) }
    });
    // A connection the client drops mid-request ends here too; nothing to report.
    let _ = http1::Builder::new()
        .serve_connection(TokioIo::new(tls), service)
        .await;
}

/// Authenticates, routes and records one request.
fn respond(
    state: &Mutex<State>,
    verifier: &dyn TokenVerifier,
    request: &Request<Incoming>,
) -> Response<Full<Bytes>> {
    let at = Instant::now();
    let now = SystemTime::now();
    let method = request.method().as_str();
    let uri = request.uri();
    // The verifier may take its time (an EKS token check does crypto); keep the lock free.
    let verdict = bearer_token(request.headers()).and_then(|token| verifier.verify(token));

    let mut state = lock(state);
    let verdict = verdict.and_then(|user| match state.take_rejection() {
        Some(rejection) => Err(rejection),
        None => Ok(user),
    });
    let outcome = match &verdict {
        Ok(_) => {
            let api_request = ApiRequest {
                method,
                path: uri.path(),
                query: url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
                    .into_owned()
                    .collect(),
                accept: request
                    .headers()
                    .get(hyper::header::ACCEPT)
                    .and_then(|accept| accept.to_str().ok()),
                now,
            };
            api::handle(&mut state, &api_request)
        }
        Err(why) => Err(ApiError::unauthorized(why)),
    };
    let (status, body) = match outcome {
        Ok(body) => (200, body),
        Err(error) => (error.code, error.body()),
    };
    state.calls.push(KubeCall {
        method: method.to_owned(),
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        authenticated: verdict.is_ok(),
        user: verdict.as_ref().ok().cloned(),
        rejection: verdict.err(),
        status,
        at,
    });
    drop(state);

    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    // As the real API server sends: responses are per user, never to be cached by proxies.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache, private"));
    response
}

/// The token of an `Authorization: Bearer <token>` header, or why there is none; the scheme
/// is case-insensitive, as the API server's bearer authenticator reads it.
fn bearer_token(headers: &HeaderMap) -> Result<&str, String> {
    let Some(header) = headers.get(AUTHORIZATION) else {
        return Err("no Authorization header (a bearer token is required)".to_owned());
    };
    let header = header
        .to_str()
        .map_err(|_| "the Authorization header is not ASCII".to_owned())?;
    match header.trim().split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
            let token = token.trim();
            if token.is_empty() {
                Err("the bearer token is empty".to_owned())
            } else {
                Ok(token)
            }
        }
        _ => Err("the Authorization header is not a bearer token".to_owned()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // A failed unwrap is a failed test.
mod tests {
    use super::*;

    fn token(header: Option<&'static str>) -> Result<String, String> {
        let mut headers = HeaderMap::new();
        if let Some(header) = header {
            headers.insert(AUTHORIZATION, HeaderValue::from_static(header));
        }
        bearer_token(&headers).map(str::to_owned)
    }

    #[test]
    fn reads_bearer_tokens_like_the_api_server() {
        assert_eq!(
            token(Some("Bearer k8s-aws-v1.abc")).unwrap(),
            "k8s-aws-v1.abc"
        );
        assert_eq!(token(Some("bearer  abc ")).unwrap(), "abc");
        assert!(token(None).unwrap_err().contains("no Authorization header"));
        assert!(token(Some("Bearer ")).is_err());
        assert!(token(Some("Basic dXNlcjpwYXNz")).is_err());
    }
}
