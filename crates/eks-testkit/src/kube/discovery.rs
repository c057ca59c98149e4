//! The discovery documents clients read before anything else: `/version`, `/api`, `/apis` and
//! `/api/v1`, shaped as an EKS 1.31 API server writes them. The resource list names what the
//! real server serves, so clients map kinds to paths as they would against EKS; a path the
//! fake does not serve yet still answers 404 or 405 plainly.

use serde_json::{Value, json};

/// `GET /version`: a `version.Info`.
pub(super) fn version() -> Value {
    json!({
        "major": "1",
        "minor": "31",
        "gitVersion": "v1.31.0-eks-fake",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2024-08-13T00:00:00Z",
        "goVersion": "go1.22.5",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

/// `GET /api`: the legacy core group's `APIVersions`.
pub(super) fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address},
        ],
    })
}

/// `GET /apis`: the named groups; the fake serves none yet.
pub(super) fn groups() -> Value {
    json!({
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [],
    })
}

/// `GET /api/v1`: the core resources the fake knows about.
pub(super) fn core_v1_resources() -> Value {
    let read_write = [
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    ];
    json!({
        "kind": "APIResourceList",
        "groupVersion": "v1",
        "resources": [
            {
                "name": "events", "singularName": "event", "namespaced": true,
                "kind": "Event", "verbs": read_write, "shortNames": ["ev"],
            },
            {
                "name": "namespaces", "singularName": "namespace", "namespaced": false,
                "kind": "Namespace", "verbs": ["create", "delete", "get", "list", "patch",
                "update", "watch"], "shortNames": ["ns"],
            },
            {
                "name": "namespaces/status", "singularName": "", "namespaced": false,
                "kind": "Namespace", "verbs": ["get", "patch", "update"],
            },
            {
                "name": "pods", "singularName": "pod", "namespaced": true, "kind": "Pod",
                "verbs": read_write, "shortNames": ["po"], "categories": ["all"],
            },
            {
                "name": "pods/exec", "singularName": "", "namespaced": true,
                "kind": "PodExecOptions", "verbs": ["create", "get"],
            },
            {
                "name": "pods/log", "singularName": "", "namespaced": true, "kind": "Pod",
                "verbs": ["get"],
            },
            {
                "name": "pods/status", "singularName": "", "namespaced": true, "kind": "Pod",
                "verbs": ["get", "patch", "update"],
            },
        ],
    })
}
