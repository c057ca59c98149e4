//! Server-side printing: the `meta.k8s.io` `Table` a client gets when its `Accept` header
//! asks for one (`kubectl get` does), with the columns and cell values the real API server
//! prints for pods and namespaces, so kubectl's output looks as it does against EKS.

use std::time::SystemTime;

use serde_json::{Value, json};

use super::wire::{human_age, parse_rfc3339};

/// Which `Table` version the client asked for first, if it asked for one at all.
pub(super) fn requested_version(accept: Option<&str>) -> Option<&'static str> {
    accept?.split(',').find_map(|media_range| {
        let mut parameters = media_range.split(';').skip(1).map(str::trim);
        let (mut is_table, mut group_ok, mut version) = (false, false, None);
        for parameter in parameters.by_ref() {
            match parameter.split_once('=') {
                Some(("as", "Table")) => is_table = true,
                Some(("g", group)) => group_ok = group == "meta.k8s.io",
                Some(("v", "v1")) => version = Some("v1"),
                Some(("v", "v1beta1")) => version = Some("v1beta1"),
                _ => {}
            }
        }
        (is_table && group_ok).then_some(version).flatten()
    })
}

/// What each row carries besides its cells (the `includeObject` query parameter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum IncludeObject {
    None,
    Metadata,
    Object,
}

impl IncludeObject {
    pub(super) fn parse(value: Option<&str>) -> Self {
        match value {
            Some("None") => Self::None,
            Some("Object") => Self::Object,
            _ => Self::Metadata,
        }
    }
}

/// The kinds the fake can print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Printer {
    Pod,
    Namespace,
}

impl Printer {
    fn columns(self) -> &'static [Column] {
        match self {
            Self::Pod => POD_COLUMNS,
            Self::Namespace => NAMESPACE_COLUMNS,
        }
    }

    fn cells(self, object: &Value, now: SystemTime) -> Vec<Value> {
        match self {
            Self::Pod => pod_cells(object, now),
            Self::Namespace => namespace_cells(object, now),
        }
    }
}

/// A `Table` of `objects` (already filtered and paged) with the list's `metadata`.
pub(super) fn table(
    printer: Printer,
    version: &str,
    objects: &[Value],
    metadata: Value,
    include: IncludeObject,
    now: SystemTime,
) -> Value {
    let rows: Vec<Value> = objects
        .iter()
        .map(|object| {
            let mut row = json!({ "cells": printer.cells(object, now) });
            let attached = match include {
                IncludeObject::None => None,
                IncludeObject::Metadata => Some(json!({
                    "kind": "PartialObjectMetadata",
                    "apiVersion": format!("meta.k8s.io/{version}"),
                    "metadata": object.get("metadata").cloned().unwrap_or_else(|| json!({})),
                })),
                IncludeObject::Object => Some(object.clone()),
            };
            if let Some(attached) = attached {
                row["object"] = attached;
            }
            row
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": format!("meta.k8s.io/{version}"),
        "metadata": metadata,
        "columnDefinitions": printer.columns().iter().map(Column::definition).collect::<Vec<_>>(),
        "rows": rows,
    })
}

struct Column {
    name: &'static str,
    kind: &'static str,
    format: &'static str,
    priority: u8,
    description: &'static str,
}

impl Column {
    fn definition(&self) -> Value {
        json!({
            "name": self.name,
            "type": self.kind,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        })
    }
}

const NAME: Column = Column {
    name: "Name",
    kind: "string",
    format: "name",
    priority: 0,
    description: "Name must be unique within a namespace.",
};

const AGE: Column = Column {
    name: "Age",
    kind: "string",
    format: "",
    priority: 0,
    description: "CreationTimestamp is a timestamp representing the server time when this \
                  object was created.",
};

const fn column(name: &'static str, kind: &'static str, priority: u8) -> Column {
    Column {
        name,
        kind,
        format: "",
        priority,
        description: "",
    }
}

const POD_COLUMNS: &[Column] = &[
    NAME,
    column("Ready", "string", 0),
    column("Status", "string", 0),
    column("Restarts", "integer", 0),
    AGE,
    column("IP", "string", 1),
    column("Node", "string", 1),
    column("Nominated Node", "string", 1),
    column("Readiness Gates", "string", 1),
];

const NAMESPACE_COLUMNS: &[Column] = &[NAME, column("Status", "string", 0), AGE];

fn text<'a>(object: &'a Value, pointer: &str) -> Option<&'a str> {
    object.pointer(pointer)?.as_str().filter(|s| !s.is_empty())
}

fn age(object: &Value, now: SystemTime) -> String {
    text(object, "/metadata/creationTimestamp")
        .and_then(parse_rfc3339)
        .map_or_else(|| "<unknown>".to_owned(), |created| human_age(created, now))
}

/// The cells kubectl shows for a pod, following the API server's pod printer: the status is
/// the pod's reason or phase, overridden by a container's waiting or terminated reason.
fn pod_cells(pod: &Value, now: SystemTime) -> Vec<Value> {
    let empty = Vec::new();
    let containers = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let statuses = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .unwrap_or(&empty);

    let mut reason = text(pod, "/status/reason")
        .or_else(|| text(pod, "/status/phase"))
        .unwrap_or("Unknown")
        .to_owned();
    let (mut ready, mut restarts, mut running) = (0, 0, false);
    // The printer walks containers from the last, so the first container's reason wins.
    for status in statuses.iter().rev() {
        restarts += status
            .get("restartCount")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if status.get("ready").and_then(Value::as_bool) == Some(true) {
            ready += 1;
        }
        if let Some(waiting) = text(status, "/state/waiting/reason") {
            reason = waiting.to_owned();
        } else if let Some(terminated) = text(status, "/state/terminated/reason") {
            reason = terminated.to_owned();
        } else if let Some(terminated) = status.pointer("/state/terminated") {
            reason = match terminated.get("signal").and_then(Value::as_i64) {
                Some(signal) if signal != 0 => format!("Signal:{signal}"),
                _ => format!(
                    "ExitCode:{}",
                    terminated
                        .get("exitCode")
                        .and_then(Value::as_i64)
                        .unwrap_or(0)
                ),
            };
        } else if status.pointer("/state/running").is_some()
            && status.get("ready").and_then(Value::as_bool) == Some(true)
        {
            running = true;
        }
    }
    if reason == "Completed" && running {
        reason = "Running".to_owned();
    }
    if pod.pointer("/metadata/deletionTimestamp").is_some() {
        reason = "Terminating".to_owned();
    }

    let or_none = |pointer: &str| text(pod, pointer).unwrap_or("<none>").to_owned();
    vec![
        json!(text(pod, "/metadata/name").unwrap_or_default()),
        json!(format!("{ready}/{}", containers.len())),
        json!(reason),
        json!(restarts),
        json!(age(pod, now)),
        json!(or_none("/status/podIP")),
        json!(or_none("/spec/nodeName")),
        json!(or_none("/status/nominatedNodeName")),
        json!("<none>"),
    ]
}

fn namespace_cells(namespace: &Value, now: SystemTime) -> Vec<Value> {
    vec![
        json!(text(namespace, "/metadata/name").unwrap_or_default()),
        json!(text(namespace, "/status/phase").unwrap_or_default()),
        json!(age(namespace, now)),
    ]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // A failed unwrap is a failed test.
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn reads_the_table_version_kubectl_asks_for() {
        let kubectl = "application/json;as=Table;v=v1;g=meta.k8s.io,\
                       application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(requested_version(Some(kubectl)), Some("v1"));
        assert_eq!(
            requested_version(Some("application/json;as=Table;v=v1beta1;g=meta.k8s.io")),
            Some("v1beta1")
        );
        assert_eq!(requested_version(Some("application/json, */*")), None);
        assert_eq!(
            requested_version(Some("application/json;as=Table;v=v1;g=example.com")),
            None
        );
        assert_eq!(requested_version(None), None);
    }

    #[test]
    fn pod_row_shows_readiness_status_restarts_and_age() {
        let now = UNIX_EPOCH + Duration::from_secs(1_714_564_800 + 300);
        let pod = json!({
            "metadata": {"name": "web", "creationTimestamp": "2024-05-01T12:00:00Z"},
            "spec": {"containers": [{"name": "a"}, {"name": "b"}], "nodeName": "node-1"},
            "status": {
                "phase": "Running",
                "podIP": "10.0.0.7",
                "containerStatuses": [
                    {"name": "a", "ready": true, "restartCount": 1, "state": {"running": {}}},
                    {"name": "b", "ready": false, "restartCount": 2,
                     "state": {"waiting": {"reason": "CrashLoopBackOff"}}},
                ],
            },
        });
        assert_eq!(
            pod_cells(&pod, now),
            vec![
                json!("web"),
                json!("1/2"),
                json!("CrashLoopBackOff"),
                json!(3),
                json!("5m"),
                json!("10.0.0.7"),
                json!("node-1"),
                json!("<none>"),
                json!("<none>"),
            ]
        );
    }

    #[test]
    fn rows_carry_partial_object_metadata_by_default() {
        let pod = json!({"metadata": {"name": "web", "namespace": "default"}, "spec": {}});
        let table = table(
            Printer::Pod,
            "v1",
            &[pod],
            json!({"resourceVersion": "7"}),
            IncludeObject::Metadata,
            SystemTime::now(),
        );
        assert_eq!(table["kind"], "Table");
        assert_eq!(table["columnDefinitions"][1]["name"], "Ready");
        assert_eq!(table["rows"][0]["object"]["kind"], "PartialObjectMetadata");
        assert_eq!(
            table["rows"][0]["object"]["metadata"]["namespace"],
            "default"
        );
        assert_eq!(table["rows"][0]["cells"][2], "Unknown");
    }
}
