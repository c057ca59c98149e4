//! Routing of authenticated requests by method and path to the handlers, and the handlers for
//! what the fake serves: discovery, namespaces, pods (read, create, delete, logs, watch) and
//! pod events, as objects, lists or `Table`s.

use std::time::SystemTime;

use hyper::body::Bytes;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::discovery;
use super::exec::{self, ExecPlan, Handshake};
use super::logs;
use super::query::{ListOptions, field_equals};
use super::state::State;
use super::table::{self, IncludeObject, Printer};
use super::watch;
use super::wire::ApiError;

/// What a handler needs to know of an (already authenticated) request.
#[derive(Debug)]
pub(super) struct ApiRequest<'a> {
    pub(super) method: &'a str,
    pub(super) path: &'a str,
    /// Decoded query parameters, in order.
    pub(super) query: Vec<(String, String)>,
    pub(super) accept: Option<&'a str>,
    /// The request body (empty for a GET).
    pub(super) body: &'a [u8],
    pub(super) now: SystemTime,
    /// The WebSocket upgrade the request asks for, or why it is not one.
    pub(super) websocket: Result<Handshake, String>,
}

/// A successful answer.
#[derive(Debug)]
pub(super) enum Answer {
    /// A JSON object with its status code.
    Json(u16, Value),
    /// Plain text streamed as it comes; an `Err` item cuts the connection mid-stream.
    Text(mpsc::Receiver<Result<Bytes, std::io::Error>>),
    /// `101 Switching Protocols`, then the exec over the upgraded connection.
    Exec(ExecPlan),
}

impl ApiRequest<'_> {
    fn parameter(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// The paths the fake serves, whatever the method.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Route {
    Version,
    CoreVersions,
    Groups,
    CoreV1Resources,
    Namespaces,
    Namespace(String),
    /// Pods of one namespace, or of all (`/api/v1/pods`).
    Pods(Option<String>),
    Pod {
        namespace: String,
        name: String,
    },
    PodLog {
        namespace: String,
        name: String,
    },
    PodExec {
        namespace: String,
        name: String,
    },
    /// Events of one namespace, or of all (`/api/v1/events`).
    Events(Option<String>),
}

impl Route {
    /// `None` for a path the fake does not serve.
    pub(super) fn parse(path: &str) -> Option<Self> {
        let segments: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
        if segments.iter().any(|segment| segment.is_empty()) {
            return None;
        }
        let owned = |segment: &&str| (*segment).to_owned();
        Some(match segments.as_slice() {
            ["version"] => Self::Version,
            ["api"] => Self::CoreVersions,
            ["apis"] => Self::Groups,
            ["api", "v1"] => Self::CoreV1Resources,
            ["api", "v1", "namespaces"] => Self::Namespaces,
            ["api", "v1", "namespaces", namespace] => Self::Namespace(owned(namespace)),
            ["api", "v1", "pods"] => Self::Pods(None),
            ["api", "v1", "namespaces", namespace, "pods"] => Self::Pods(Some(owned(namespace))),
            ["api", "v1", "namespaces", namespace, "pods", name] => Self::Pod {
                namespace: owned(namespace),
                name: owned(name),
            },
            ["api", "v1", "namespaces", namespace, "pods", name, "log"] => Self::PodLog {
                namespace: owned(namespace),
                name: owned(name),
            },
            ["api", "v1", "namespaces", namespace, "pods", name, "exec"] => Self::PodExec {
                namespace: owned(namespace),
                name: owned(name),
            },
            ["api", "v1", "events"] => Self::Events(None),
            ["api", "v1", "namespaces", namespace, "events"] => {
                Self::Events(Some(owned(namespace)))
            }
            _ => return None,
        })
    }
}

/// Answers one authenticated request, or says which error to send.
pub(super) fn handle(state: &mut State, request: &ApiRequest<'_>) -> Result<Answer, ApiError> {
    let route = Route::parse(request.path).ok_or_else(ApiError::unknown_path)?;
    match (request.method, route) {
        ("POST", Route::Pods(Some(namespace))) => {
            let pod = state.create_pod(&namespace, request.body)?;
            Ok(Answer::Json(201, pod))
        }
        ("DELETE", Route::Pod { namespace, name }) => {
            let grace = grace_period(request)?;
            Ok(Answer::Json(
                200,
                state.delete_pod(&namespace, &name, grace)?,
            ))
        }
        ("PATCH", Route::Pod { namespace, name }) => Ok(Answer::Json(
            200,
            state.patch_pod_metadata(&namespace, &name, request.body)?,
        )),
        ("GET", Route::PodLog { namespace, name }) => {
            logs::answer(state, &namespace, &name, &request.query)
        }
        ("GET" | "POST", Route::PodExec { namespace, name }) => {
            exec::answer(state, &namespace, &name, &request.query, &request.websocket)
        }
        ("GET", Route::Events(namespace)) => events(state, request, namespace.as_deref()),
        ("GET", Route::Pods(namespace)) if watch::requested(&request.query) => {
            watch::answer(state, namespace.as_deref(), &request.query)
        }
        (method, route) => read(state, request, method, route).map(|body| Answer::Json(200, body)),
    }
}

/// Cuts a streamed answer (a dropped connection) after what was sent before it has gone
/// out: hyper discards data it has buffered when a body fails, so the cut waits for the
/// channel to drain and gives the connection a moment to flush.
pub(super) async fn cut_stream(sender: &mpsc::Sender<Result<Bytes, std::io::Error>>, why: &str) {
    for _ in 0..200 {
        if sender.capacity() == sender.max_capacity() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    // The client may have gone already: then there is nothing left to cut.
    let _ = sender
        .send(Err(std::io::Error::other(why.to_owned())))
        .await;
}

/// The grace period of a delete: the `gracePeriodSeconds` of a `DeleteOptions` body, else of
/// the query.
fn grace_period(request: &ApiRequest<'_>) -> Result<Option<i64>, ApiError> {
    let invalid = |value: &dyn std::fmt::Display| {
        ApiError::bad_request(format!(
            "gracePeriodSeconds: invalid value {value}: must be an integer"
        ))
    };
    if !request.body.iter().all(u8::is_ascii_whitespace) {
        let options: Value = serde_json::from_slice(request.body).map_err(|error| {
            ApiError::bad_request(format!("the request body is not DeleteOptions: {error}"))
        })?;
        match options.get("gracePeriodSeconds") {
            None | Some(Value::Null) => {}
            Some(seconds) => return seconds.as_i64().map(Some).ok_or_else(|| invalid(seconds)),
        }
    }
    match request.parameter("gracePeriodSeconds") {
        Some(seconds) => seconds.parse().map(Some).map_err(|_| invalid(&seconds)),
        None => Ok(None),
    }
}

/// `GET .../events`, with the one field selector a pod operator uses:
/// `involvedObject.name=X`.
fn events(
    state: &State,
    request: &ApiRequest<'_>,
    namespace: Option<&str>,
) -> Result<Answer, ApiError> {
    let mut involved_name = None;
    for (name, value) in &request.query {
        match name.as_str() {
            "fieldSelector" if !value.is_empty() => {
                involved_name = Some(field_equals(value, "involvedObject.name")?);
            }
            "watch" if value != "false" && value != "0" => {
                return Err(ApiError::bad_request(
                    "watching events is not supported by the fake",
                ));
            }
            _ => {}
        }
    }
    let items: Vec<Value> = state
        .events
        .iter()
        .filter(|event| {
            namespace.is_none_or(|namespace| event["metadata"]["namespace"] == namespace)
        })
        .filter(|event| {
            involved_name
                .as_ref()
                .is_none_or(|name| event["involvedObject"]["name"] == name.as_str())
        })
        .cloned()
        .collect();
    Ok(Answer::Json(
        200,
        json!({
            "kind": "EventList",
            "apiVersion": "v1",
            "metadata": { "resourceVersion": state.resource_version() },
            "items": items,
        }),
    ))
}

/// The reads of discovery, namespaces and pods.
fn read(
    state: &mut State,
    request: &ApiRequest<'_>,
    method: &str,
    route: Route,
) -> Result<Value, ApiError> {
    match (method, route) {
        ("GET", Route::Version) => Ok(discovery::version()),
        ("GET", Route::CoreVersions) => Ok(discovery::core_versions(&state.server_address)),
        ("GET", Route::Groups) => Ok(discovery::groups()),
        ("GET", Route::CoreV1Resources) => Ok(discovery::core_v1_resources()),
        ("GET", Route::Namespaces) => list(
            state,
            request,
            state.namespaces.iter(),
            "NamespaceList",
            Printer::Namespace,
        ),
        ("GET", Route::Namespace(name)) => {
            let namespace = state
                .namespaces
                .get(&name)
                .ok_or_else(|| ApiError::not_found("namespaces", &name))?;
            Ok(one(request, namespace, Printer::Namespace))
        }
        ("GET", Route::Pods(namespace)) => list(
            state,
            request,
            state.pods_in(namespace.as_deref()),
            "PodList",
            Printer::Pod,
        ),
        ("GET", Route::Pod { namespace, name }) => {
            let pod = state
                .pod(&namespace, &name)
                .ok_or_else(|| ApiError::not_found("pods", &name))?;
            Ok(one(request, pod, Printer::Pod))
        }
        (method, _) => Err(ApiError::method_not_allowed(method)),
    }
}

/// One object, or a one-row `Table` of it when the client asked for a table.
fn one(request: &ApiRequest<'_>, object: &Value, printer: Printer) -> Value {
    match table::requested_version(request.accept) {
        Some(version) => table::table(
            printer,
            version,
            std::slice::from_ref(object),
            json!({}),
            IncludeObject::parse(request.parameter("includeObject")),
            request.now,
        ),
        None => object.clone(),
    }
}

/// A page of the `objects` the request selects, as a `...List` or a `Table`. `objects` come
/// in key order, and the key of a page's last object is its `continue` token.
fn list<'a>(
    state: &State,
    request: &ApiRequest<'_>,
    objects: impl Iterator<Item = (&'a String, &'a Value)>,
    list_kind: &str,
    printer: Printer,
) -> Result<Value, ApiError> {
    let options = ListOptions::parse(&request.query)?;
    let selected: Vec<(&String, &Value)> = objects
        .filter(|(key, _)| {
            options
                .continue_after
                .as_ref()
                .is_none_or(|after| key.as_str() > after.as_str())
        })
        .filter(|(_, object)| options.selector.matches(object.pointer("/metadata/labels")))
        .filter(|(_, object)| {
            options.name.as_deref().is_none_or(|name| {
                object.pointer("/metadata/name").and_then(Value::as_str) == Some(name)
            })
        })
        .collect();
    let page = match options.limit {
        Some(limit) => &selected[..limit.min(selected.len())],
        None => &selected[..],
    };
    let remaining = selected.len() - page.len();

    let mut metadata = json!({ "resourceVersion": state.resource_version() });
    if let (Some((last_key, _)), true) = (page.last(), remaining > 0) {
        metadata["continue"] = json!(last_key);
        metadata["remainingItemCount"] = json!(remaining);
    }
    let items: Vec<Value> = page.iter().map(|(_, object)| (*object).clone()).collect();
    Ok(match table::requested_version(request.accept) {
        Some(version) => table::table(
            printer,
            version,
            &items,
            metadata,
            IncludeObject::parse(request.parameter("includeObject")),
            request.now,
        ),
        None => json!({
            "kind": list_kind,
            "apiVersion": "v1",
            "metadata": metadata,
            "items": items,
        }),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // A failed unwrap is a failed test.
mod tests {
    use super::*;

    #[test]
    fn routes_by_path() {
        assert_eq!(Route::parse("/version"), Some(Route::Version));
        assert_eq!(Route::parse("/api/v1"), Some(Route::CoreV1Resources));
        assert_eq!(
            Route::parse("/api/v1/namespaces/default/pods/web"),
            Some(Route::Pod {
                namespace: "default".to_owned(),
                name: "web".to_owned()
            })
        );
        assert_eq!(Route::parse("/api/v1/pods"), Some(Route::Pods(None)));
        for unknown in [
            "",
            "/",
            "/api/",
            "/api//v1",
            "/openapi/v2",
            "/apis/apps/v1",
            "/api/v1/namespaces/default/pods/web/attach",
        ] {
            assert_eq!(Route::parse(unknown), None, "{unknown}");
        }
    }

    fn get(state: &mut State, path_and_query: &str) -> Result<Value, ApiError> {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        let request = ApiRequest {
            method: "GET",
            path,
            query: url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
            accept: None,
            body: b"",
            now: SystemTime::now(),
            websocket: Err("not an upgrade".to_owned()),
        };
        match handle(state, &request)? {
            Answer::Json(_, body) => Ok(body),
            Answer::Text(_) | Answer::Exec(_) => panic!("{path_and_query} answered a stream"),
        }
    }

    #[test]
    fn pages_follow_continue_tokens_through_a_filtered_list() {
        let mut state = State::new("127.0.0.1:1".to_owned());
        for (name, app) in [("a", "web"), ("b", "db"), ("c", "web"), ("d", "web")] {
            state
                .seed_pod(
                    "default",
                    json!({"metadata": {"name": name, "labels": {"app": app}}}),
                )
                .unwrap();
        }
        let first = get(&mut state, "/api/v1/pods?labelSelector=app%3Dweb&limit=2").unwrap();
        let names = |list: &Value| -> Vec<String> {
            list["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|pod| pod["metadata"]["name"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(names(&first), ["a", "c"]);
        assert_eq!(first["metadata"]["remainingItemCount"], 1);
        let token = first["metadata"]["continue"].as_str().unwrap().to_owned();
        let second = get(
            &mut state,
            &format!("/api/v1/pods?labelSelector=app%3Dweb&limit=2&continue={token}"),
        )
        .unwrap();
        assert_eq!(names(&second), ["d"]);
        assert!(second["metadata"].get("continue").is_none());
    }

    #[test]
    fn other_methods_on_known_paths_are_not_allowed() {
        let mut state = State::new("127.0.0.1:1".to_owned());
        let request = ApiRequest {
            method: "PUT",
            path: "/api/v1/namespaces/default/pods/web",
            query: Vec::new(),
            accept: None,
            body: b"",
            now: SystemTime::now(),
            websocket: Err("not an upgrade".to_owned()),
        };
        let error = handle(&mut state, &request).unwrap_err();
        assert_eq!((error.code, error.reason), (405, "MethodNotAllowed"));
    }
}
