//! Writing a kubeconfig for an EKS cluster, as `aws eks update-kubeconfig` does: one
//! cluster, context and user entry named by the cluster ARN (or an alias), the user running
//! `eks-token` as a kubectl exec credential plugin. Every other entry of an existing file is
//! kept; a file that cannot be read or parsed is never overwritten; writes are atomic, 0600.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

/// The exec API version written: the one every kubectl since 1.11 and client-go accept.
pub const EXEC_API_VERSION: &str = "client.authentication.k8s.io/v1beta1";

#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    #[error("cannot read the kubeconfig {0}: {1}")]
    Read(PathBuf, #[source] std::io::Error),
    #[error("the kubeconfig {0} is not valid YAML, so it was left untouched: {1}")]
    Parse(PathBuf, String),
    #[error("the kubeconfig {0} is not a kubeconfig (its {1}), so it was left untouched")]
    Shape(PathBuf, String),
    #[error("cannot write the kubeconfig {0}: {1}")]
    Write(PathBuf, #[source] std::io::Error),
    #[error("cannot render the kubeconfig: {0}")]
    Render(String),
}

/// What to write for one cluster.
#[derive(Debug, Clone)]
pub struct ClusterEntry {
    pub cluster_name: String,
    pub cluster_arn: String,
    pub endpoint: String,
    /// Base64 PEM, as DescribeCluster returns it.
    pub certificate_authority_data: String,
    /// Context name; the ARN by default.
    pub alias: Option<String>,
    /// User name; the ARN by default.
    pub user_alias: Option<String>,
    pub namespace: Option<String>,
    /// The exec plugin's command and arguments.
    pub command: String,
    pub args: Vec<String>,
    /// Environment for the plugin, e.g. AWS_PROFILE.
    pub env: Vec<(String, String)>,
    pub set_current_context: bool,
}

/// What a merge did, for the result line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    pub yaml: String,
    pub context: String,
    pub user: String,
    /// True when an entry of that name was replaced rather than added.
    pub replaced: bool,
}

/// The file to write: `--kubeconfig`, else the first path of `KUBECONFIG`, else ~/.kube/config.
pub fn target_path(
    flag: Option<&Path>,
    kubeconfig_env: Option<&str>,
    home: Option<&Path>,
) -> Option<PathBuf> {
    if let Some(path) = flag {
        return Some(path.to_path_buf());
    }
    if let Some(first) =
        kubeconfig_env.and_then(|v| std::env::split_paths(v).find(|p| !p.as_os_str().is_empty()))
    {
        return Some(first);
    }
    home.map(|h| h.join(".kube").join("config"))
}

/// Any YAML document as JSON values (pod templates use it too).
pub fn parse_yaml(text: &str) -> Result<Value, String> {
    serde_saphyr::from_str::<Value>(text).map_err(|e| one_line(&e.to_string()))
}

/// Read the existing file: `None` when it does not exist (or is empty).
pub fn read_existing(path: &Path) -> Result<Option<String>, KubeconfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) if text.trim().is_empty() => Ok(None),
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(KubeconfigError::Read(path.to_path_buf(), e)),
    }
}

/// A kubeconfig document, parsed and checked, ready to merge into.
pub type Document = Map<String, Value>;

/// Parse `existing` (the YAML text of `path`; `None` for no file) and check its shape, so a
/// file that cannot be merged into is refused before anything else happens.
pub fn parse(path: &Path, existing: Option<&str>) -> Result<Document, KubeconfigError> {
    let doc = match existing {
        None => Map::new(),
        Some(text) => match serde_saphyr::from_str::<Value>(text) {
            Ok(Value::Object(map)) => map,
            Ok(Value::Null) => Map::new(),
            Ok(other) => {
                return Err(KubeconfigError::Shape(
                    path.to_path_buf(),
                    format!("top level is {}", kind(&other)),
                ));
            }
            Err(e) => {
                return Err(KubeconfigError::Parse(
                    path.to_path_buf(),
                    one_line(&e.to_string()),
                ));
            }
        },
    };
    for list in ["clusters", "contexts", "users"] {
        match doc.get(list) {
            None | Some(Value::Null) | Some(Value::Array(_)) => {}
            Some(other) => {
                return Err(KubeconfigError::Shape(
                    path.to_path_buf(),
                    format!("`{list}` is {}, not a list", kind(other)),
                ));
            }
        }
    }
    Ok(doc)
}

/// Add or replace the cluster's entries in `existing` (YAML text of `path`), keeping the rest.
pub fn merge(
    path: &Path,
    existing: Option<&str>,
    entry: &ClusterEntry,
) -> Result<Merged, KubeconfigError> {
    merge_into(path, parse(path, existing)?, entry)
}

/// Add or replace the cluster's entries in a parsed document, keeping the rest.
pub fn merge_into(
    path: &Path,
    mut doc: Document,
    entry: &ClusterEntry,
) -> Result<Merged, KubeconfigError> {
    doc.entry("apiVersion").or_insert_with(|| json!("v1"));
    doc.entry("kind").or_insert_with(|| json!("Config"));
    doc.entry("preferences").or_insert_with(|| json!({}));

    let cluster_key = entry.cluster_arn.clone();
    let context = entry
        .alias
        .clone()
        .unwrap_or_else(|| entry.cluster_arn.clone());
    let user = entry
        .user_alias
        .clone()
        .unwrap_or_else(|| entry.cluster_arn.clone());

    let mut exec = Map::new();
    exec.insert("apiVersion".into(), json!(EXEC_API_VERSION));
    exec.insert("command".into(), json!(entry.command));
    exec.insert("args".into(), json!(entry.args));
    if !entry.env.is_empty() {
        let env: Vec<Value> = entry
            .env
            .iter()
            .map(|(k, v)| json!({"name": k, "value": v}))
            .collect();
        exec.insert("env".into(), Value::Array(env));
    }
    exec.insert("interactiveMode".into(), json!("Never"));
    exec.insert("provideClusterInfo".into(), json!(false));

    let mut context_body = json!({"cluster": cluster_key, "user": user});
    if let Some(ns) = &entry.namespace {
        context_body["namespace"] = json!(ns);
    }
    let mut replaced = upsert(
        path,
        &mut doc,
        "clusters",
        "cluster",
        &cluster_key,
        json!({
            "server": entry.endpoint,
            "certificate-authority-data": entry.certificate_authority_data,
        }),
    )?;
    replaced |= upsert(
        path,
        &mut doc,
        "contexts",
        "context",
        &context,
        context_body,
    )?;
    replaced |= upsert(
        path,
        &mut doc,
        "users",
        "user",
        &user,
        json!({"exec": Value::Object(exec)}),
    )?;
    if entry.set_current_context {
        doc.insert("current-context".into(), json!(context));
    }
    let yaml = serde_saphyr::to_string(&Value::Object(doc))
        .map_err(|e| KubeconfigError::Render(e.to_string()))?;
    Ok(Merged {
        yaml,
        context,
        user,
        replaced,
    })
}

/// Replace the entry named `name` in the list `list` (or append it); true when replaced.
fn upsert(
    path: &Path,
    doc: &mut Map<String, Value>,
    list: &str,
    field: &str,
    name: &str,
    body: Value,
) -> Result<bool, KubeconfigError> {
    let entries = doc
        .entry(list.to_owned())
        .or_insert_with(|| Value::Array(vec![]));
    if entries.is_null() {
        *entries = Value::Array(vec![]);
    }
    let Value::Array(items) = entries else {
        return Err(KubeconfigError::Shape(
            path.to_path_buf(),
            format!("`{list}` is {}, not a list", kind(entries)),
        ));
    };
    let named = json!({"name": name, field: body});
    match items
        .iter_mut()
        .find(|item| item.get("name").and_then(Value::as_str) == Some(name))
    {
        Some(item) => {
            *item = named;
            Ok(true)
        }
        None => {
            items.push(named);
            Ok(false)
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "empty",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Write `contents` to `path` atomically with mode 0600: a temporary file in the same
/// directory, synced, then renamed over the target. The directory is created (0700) if missing.
pub fn write_atomic(path: &Path, contents: &str) -> Result<(), KubeconfigError> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let err = |e| KubeconfigError::Write(path.to_path_buf(), e);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(err)?;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "config".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(contents.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(err(e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> ClusterEntry {
        ClusterEntry {
            cluster_name: "demo".into(),
            cluster_arn: "arn:aws:eks:us-east-1:123456789012:cluster/demo".into(),
            endpoint: "https://ABC.gr7.us-east-1.eks.amazonaws.com".into(),
            certificate_authority_data: "LS0tCA==".into(),
            alias: None,
            user_alias: None,
            namespace: None,
            command: "eks-token".into(),
            args: vec![
                "--cluster-name".into(),
                "demo".into(),
                "--region".into(),
                "us-east-1".into(),
            ],
            env: vec![],
            set_current_context: true,
        }
    }

    const EXISTING: &str = r#"apiVersion: v1
kind: Config
clusters:
- name: other
  cluster:
    server: https://other.example
    insecure-skip-tls-verify: true
contexts:
- name: other
  context: {cluster: other, user: other, namespace: team}
users:
- name: other
  user:
    token: static-token-of-another-cluster
current-context: other
x-custom: keep-me
"#;

    #[test]
    fn adds_entries_and_keeps_the_rest() {
        let merged = merge(Path::new("cfg"), Some(EXISTING), &entry()).expect("merged");
        let doc: Value = serde_saphyr::from_str(&merged.yaml).expect("yaml");
        assert_eq!(doc["clusters"].as_array().map(Vec::len), Some(2));
        assert_eq!(
            doc["clusters"][0]["cluster"]["insecure-skip-tls-verify"],
            true
        );
        assert_eq!(
            doc["users"][0]["user"]["token"],
            "static-token-of-another-cluster"
        );
        assert_eq!(doc["x-custom"], "keep-me");
        assert_eq!(
            doc["current-context"],
            "arn:aws:eks:us-east-1:123456789012:cluster/demo"
        );
        let exec = &doc["users"][1]["user"]["exec"];
        assert_eq!(exec["command"], "eks-token");
        assert_eq!(exec["interactiveMode"], "Never");
        assert_eq!(exec["apiVersion"], EXEC_API_VERSION);
        assert!(!merged.replaced);
        // kube-rs itself reads the result.
        kube::config::Kubeconfig::from_yaml(&merged.yaml).expect("kube reads it");
    }

    #[test]
    fn replaces_its_own_entries_on_a_second_run() {
        let first = merge(Path::new("cfg"), Some(EXISTING), &entry()).expect("first");
        let mut again = entry();
        again.endpoint = "https://NEW.example".into();
        again.alias = Some("demo".into());
        again.set_current_context = false;
        let second = merge(Path::new("cfg"), Some(&first.yaml), &again).expect("second");
        let doc: Value = serde_saphyr::from_str(&second.yaml).expect("yaml");
        assert_eq!(
            doc["clusters"].as_array().map(Vec::len),
            Some(2),
            "cluster replaced, not added"
        );
        assert_eq!(
            doc["clusters"][1]["cluster"]["server"],
            "https://NEW.example"
        );
        assert_eq!(
            doc["contexts"].as_array().map(Vec::len),
            Some(3),
            "a new alias is a new context"
        );
        assert_eq!(
            doc["current-context"], "arn:aws:eks:us-east-1:123456789012:cluster/demo",
            "--no-set-context keeps it"
        );
        assert!(second.replaced);
    }

    #[test]
    fn corrupt_or_odd_files_are_refused() {
        let err =
            merge(Path::new("cfg"), Some("clusters: [unclosed"), &entry()).expect_err("corrupt");
        assert!(matches!(err, KubeconfigError::Parse(..)), "{err}");
        let err = merge(Path::new("cfg"), Some("- a\n- b\n"), &entry()).expect_err("a list");
        assert!(err.to_string().contains("top level is a list"), "{err}");
        let err = merge(Path::new("cfg"), Some("clusters: nope\n"), &entry())
            .expect_err("clusters not a list");
        assert!(err.to_string().contains("`clusters` is a string"), "{err}");
    }

    #[test]
    fn target_path_order() {
        let home = Path::new("/home/u");
        assert_eq!(
            target_path(Some(Path::new("/x")), Some("/a:/b"), Some(home)),
            Some(PathBuf::from("/x"))
        );
        assert_eq!(
            target_path(None, Some("/a:/b"), Some(home)),
            Some(PathBuf::from("/a"))
        );
        assert_eq!(
            target_path(None, None, Some(home)),
            Some(PathBuf::from("/home/u/.kube/config"))
        );
    }

    #[test]
    fn atomic_write_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("eks-kubeconfig-test-{}", std::process::id()));
        let path = dir.join("nested").join("config");
        write_atomic(&path, "a: 1\n").expect("written");
        let mode = std::fs::metadata(&path)
            .expect("exists")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "a: 1\n");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
