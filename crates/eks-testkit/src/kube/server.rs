//! The network side of the fake: accepting TLS connections, serving HTTP/1.1 on each, and
//! for every request authenticating the bearer token, routing it, recording it, and writing
//! the answer with the headers a Kubernetes API server sends; an accepted `exec` answers 101
//! and hands the upgraded connection to [`exec`](super::exec).

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use http_body_util::BodyExt;
use hyper::body::{Body, Bytes, Frame, Incoming};
use hyper::header::{
    AUTHORIZATION, CACHE_CONTROL, CONNECTION, CONTENT_TYPE, HeaderMap, HeaderValue,
    SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_PROTOCOL, UPGRADE,
};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use super::api::{self, Answer, ApiRequest};
use super::exec;
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
        let (state, verifier) = (Arc::clone(&state), Arc::clone(&verifier));
        async move { Ok::<_, Infallible>(respond(&state, verifier.as_ref(), request).await) }
    });
    // A connection the client drops mid-request ends here too; nothing to report.
    // Upgrades are how `exec` switches the connection to WebSocket.
    let _ = http1::Builder::new()
        .serve_connection(TokioIo::new(tls), service)
        .with_upgrades()
        .await;
}

/// A response body: a whole JSON or text answer, or text streamed from a channel, where an
/// `Err` item cuts the connection without the terminating chunk (a dropped stream).
pub(super) struct ResponseBody {
    whole: Option<Bytes>,
    stream: Option<mpsc::Receiver<Result<Bytes, std::io::Error>>>,
}

impl ResponseBody {
    fn whole(bytes: impl Into<Bytes>) -> Self {
        Self {
            whole: Some(bytes.into()),
            stream: None,
        }
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = std::io::Error;

    // An exact size keeps `Content-Length` on whole answers; streams go chunked.
    fn size_hint(&self) -> hyper::body::SizeHint {
        match (&self.whole, &self.stream) {
            (Some(whole), None) => hyper::body::SizeHint::with_exact(whole.len() as u64),
            (None, None) => hyper::body::SizeHint::with_exact(0),
            _ => hyper::body::SizeHint::default(),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.whole.is_none() && self.stream.is_none()
    }

    fn poll_frame(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        if let Some(whole) = self.whole.take() {
            return Poll::Ready(Some(Ok(Frame::data(whole))));
        }
        match self.stream.as_mut() {
            Some(stream) => stream
                .poll_recv(context)
                .map(|item| item.map(|chunk| chunk.map(Frame::data))),
            None => Poll::Ready(None),
        }
    }
}

/// Authenticates, routes and records one request.
async fn respond(
    state: &Mutex<State>,
    verifier: &dyn TokenVerifier,
    mut request: Request<Incoming>,
) -> Response<ResponseBody> {
    let at = Instant::now();
    let now = SystemTime::now();
    let websocket = exec::handshake(request.headers());
    let pending_upgrade = websocket.is_ok().then(|| hyper::upgrade::on(&mut request));
    let (parts, body) = request.into_parts();
    let method = parts.method.as_str();
    let uri = &parts.uri;
    // A body that fails to arrive is treated as empty: the handler then says what is missing.
    let body = body
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .unwrap_or_default();
    let latency = lock(state).latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    // The verifier may take its time (an EKS token check does crypto); keep the lock free.
    let verdict = bearer_token(&parts.headers).and_then(|token| verifier.verify(token));

    let mut state = lock(state);
    let verdict = verdict.and_then(|user| match state.take_rejection() {
        Some(rejection) => Err(rejection),
        None => Ok(user),
    });
    let outcome = match (&verdict, state.take_server_error()) {
        (Ok(_), Some(code)) => Err(ApiError::injected_server_error(code)),
        (Ok(_), None) => {
            let api_request = ApiRequest {
                method,
                path: uri.path(),
                query: url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
                    .into_owned()
                    .collect(),
                accept: parts
                    .headers
                    .get(hyper::header::ACCEPT)
                    .and_then(|accept| accept.to_str().ok()),
                body: &body,
                now,
                websocket,
            };
            api::handle(&mut state, &api_request)
        }
        (Err(why), _) => Err(ApiError::unauthorized(why)),
    };
    let mut upgrade = None;
    let (status, content_type, body) = match outcome {
        Ok(Answer::Exec(plan)) => {
            let accept = (plan.handshake.accept.clone(), plan.handshake.protocol);
            if let Some(pending) = pending_upgrade {
                // The connection is handed over once hyper has sent the 101.
                tokio::spawn(exec::serve(pending, plan));
            }
            upgrade = Some(accept);
            (
                101,
                "",
                ResponseBody {
                    whole: None,
                    stream: None,
                },
            )
        }
        Ok(Answer::Json(code, body)) => (
            code,
            "application/json",
            ResponseBody::whole(body.to_string()),
        ),
        Ok(Answer::Text(stream)) => (
            200,
            "text/plain",
            ResponseBody {
                whole: None,
                stream: Some(stream),
            },
        ),
        Err(error) => (
            error.code,
            "application/json",
            ResponseBody::whole(error.body().to_string()),
        ),
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

    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let headers = response.headers_mut();
    if let Some((accept, protocol)) = upgrade {
        headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
        headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
        if let Ok(accept) = HeaderValue::from_str(&accept) {
            headers.insert(SEC_WEBSOCKET_ACCEPT, accept);
        }
        headers.insert(SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static(protocol));
        return response;
    }
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
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
