//! What the API server does to a pod on create before storing it: validation (the subset of
//! Kubernetes' rules a pod operator can trip over, answered as a 422 `Invalid` `Status` with
//! the same field paths and messages) and the defaults it fills in.

use serde_json::{Value, json};

use super::wire::ApiError;

const SUBDOMAIN_RULE: &str = "a lowercase RFC 1123 subdomain must consist of lower case \
    alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character \
    (e.g. 'example.com', regex used for validation is \
    '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_RULE: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric \
    characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name', \
    or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

/// Whether `name` is a DNS-1123 label: what a container name must be.
pub(super) fn is_dns1123_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.first() != Some(&b'-')
        && bytes.last() != Some(&b'-')
}

/// Whether `name` is a DNS-1123 subdomain: what a pod name must be.
pub(super) fn is_dns1123_subdomain(name: &str) -> bool {
    name.len() <= 253 && name.split('.').all(is_dns1123_label)
}

/// Checks a pod about to be created as `name`; `Err` is the 422 to answer.
pub(super) fn validate(name: &str, pod: &Value) -> Result<(), ApiError> {
    let mut causes: Vec<(String, &str, String)> = Vec::new();
    if !is_dns1123_subdomain(name) {
        causes.push((
            "metadata.name".to_owned(),
            "FieldValueInvalid",
            format!("Invalid value: {name:?}: {SUBDOMAIN_RULE}"),
        ));
    }
    let containers = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .filter(|containers| !containers.is_empty());
    let Some(containers) = containers else {
        causes.push((
            "spec.containers".to_owned(),
            "FieldValueRequired",
            "Required value".to_owned(),
        ));
        return Err(ApiError::invalid("Pod", name, &causes));
    };
    let mut seen: Vec<&str> = Vec::new();
    for (index, container) in containers.iter().enumerate() {
        let field = |leaf: &str| format!("spec.containers[{index}].{leaf}");
        match container.get("name").and_then(Value::as_str) {
            None | Some("") => causes.push((
                field("name"),
                "FieldValueRequired",
                "Required value".to_owned(),
            )),
            Some(container_name) if seen.contains(&container_name) => causes.push((
                field("name"),
                "FieldValueDuplicate",
                format!("Duplicate value: {container_name:?}"),
            )),
            Some(container_name) if !is_dns1123_label(container_name) => causes.push((
                field("name"),
                "FieldValueInvalid",
                format!("Invalid value: {container_name:?}: {LABEL_RULE}"),
            )),
            Some(container_name) => seen.push(container_name),
        }
        if container
            .get("image")
            .and_then(Value::as_str)
            .is_none_or(|image| image.trim().is_empty())
        {
            causes.push((
                field("image"),
                "FieldValueRequired",
                "Required value".to_owned(),
            ));
        }
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid("Pod", name, &causes))
    }
}

/// Fills in the defaults the API server sets on a new pod's spec and containers.
pub(super) fn apply_defaults(pod: &mut Value) {
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    for (field, default) in [
        ("restartPolicy", json!("Always")),
        ("terminationGracePeriodSeconds", json!(30)),
        ("dnsPolicy", json!("ClusterFirst")),
        ("schedulerName", json!("default-scheduler")),
        ("serviceAccountName", json!("default")),
        ("securityContext", json!({})),
    ] {
        spec.entry(field).or_insert(default);
    }
    let Some(containers) = spec.get_mut("containers").and_then(Value::as_array_mut) else {
        return;
    };
    for container in containers.iter_mut().filter_map(Value::as_object_mut) {
        let image = container
            .get("image")
            .and_then(Value::as_str)
            .unwrap_or_default();
        // As the API server defaults it: an untagged or `:latest` image is always pulled.
        let last = image.rsplit('/').next().unwrap_or(image);
        let pull = if !last.contains(':') || last.ends_with(":latest") {
            "Always"
        } else {
            "IfNotPresent"
        };
        container
            .entry("imagePullPolicy")
            .or_insert_with(|| json!(pull));
        container
            .entry("terminationMessagePath")
            .or_insert_with(|| json!("/dev/termination-log"));
        container
            .entry("terminationMessagePolicy")
            .or_insert_with(|| json!("File"));
        container.entry("resources").or_insert_with(|| json!({}));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // A failed unwrap is a failed test.
mod tests {
    use super::*;

    fn causes(name: &str, pod: Value) -> Vec<(String, String)> {
        let error = validate(name, &pod).unwrap_err();
        assert_eq!((error.code, error.reason), (422, "Invalid"));
        error.details["causes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|cause| {
                (
                    cause["field"].as_str().unwrap().to_owned(),
                    cause["reason"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    fn pair(field: &str, reason: &str) -> (String, String) {
        (field.to_owned(), reason.to_owned())
    }

    #[test]
    fn names_follow_dns_1123() {
        assert!(is_dns1123_subdomain("run-1.etl"));
        assert!(is_dns1123_label("main"));
        for bad in ["", "Run", "run_1", "-run", "run-", "a..b"] {
            assert!(!is_dns1123_subdomain(bad), "{bad}");
        }
        assert!(!is_dns1123_label("a.b"));
        assert!(!is_dns1123_label(&"a".repeat(64)));
    }

    #[test]
    fn invalid_pods_are_refused_with_field_paths() {
        assert_eq!(
            causes("run", json!({"spec": {}})),
            [pair("spec.containers", "FieldValueRequired")]
        );
        assert_eq!(
            causes(
                "Bad_Name",
                json!({"spec": {"containers": [
                    {"name": "main", "image": "busybox"},
                    {"name": "main", "image": "busybox"},
                    {"image": "busybox"},
                    {"name": "side"},
                ]}})
            ),
            [
                pair("metadata.name", "FieldValueInvalid"),
                pair("spec.containers[1].name", "FieldValueDuplicate"),
                pair("spec.containers[2].name", "FieldValueRequired"),
                pair("spec.containers[3].image", "FieldValueRequired"),
            ]
        );
        let ok = json!({"spec": {"containers": [{"name": "main", "image": "busybox"}]}});
        assert!(validate("run", &ok).is_ok());
    }

    #[test]
    fn defaults_are_filled_in() {
        let mut pod = json!({"spec": {"restartPolicy": "Never", "containers": [
            {"name": "a", "image": "busybox"}, {"name": "b", "image": "busybox:1.36"},
        ]}});
        apply_defaults(&mut pod);
        assert_eq!(pod["spec"]["restartPolicy"], "Never");
        assert_eq!(pod["spec"]["terminationGracePeriodSeconds"], 30);
        assert_eq!(pod["spec"]["containers"][0]["imagePullPolicy"], "Always");
        assert_eq!(
            pod["spec"]["containers"][1]["imagePullPolicy"],
            "IfNotPresent"
        );
        assert_eq!(
            pod["spec"]["containers"][1]["terminationMessagePath"],
            "/dev/termination-log"
        );
    }
}
