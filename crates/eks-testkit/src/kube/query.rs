//! The query parameters of a list request the fake honours (`labelSelector`, `limit`,
//! `continue`, `fieldSelector=metadata.name=NAME`) and those it refuses with 400 rather than
//! ignore (other field selectors, set-based selectors, and `watch` where no watch is
//! served), so a client never gets a silently wrong answer. Pod watches are answered before
//! these options are read.

use serde_json::Value;

use super::wire::ApiError;

/// What a list request asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct ListOptions {
    pub(super) selector: LabelSelector,
    /// Page size; `None` for everything (`limit=0` means the same to Kubernetes).
    pub(super) limit: Option<usize>,
    /// The key after which this page starts, from a previous page's `continue`.
    pub(super) continue_after: Option<String>,
    /// `fieldSelector=metadata.name=NAME`, the one field selector every resource supports and
    /// that a list-then-watch client (kube-rs's watcher on one pod) sends.
    pub(super) name: Option<String>,
}

impl ListOptions {
    pub(super) fn parse(query: &[(String, String)]) -> Result<Self, ApiError> {
        let mut options = Self::default();
        for (name, value) in query {
            match name.as_str() {
                "labelSelector" => options.selector = LabelSelector::parse(value)?,
                "limit" => {
                    let limit: usize = value.parse().map_err(|_| {
                        ApiError::bad_request(format!(
                            "limit: invalid value {value:?}: must be a non-negative integer"
                        ))
                    })?;
                    options.limit = (limit > 0).then_some(limit);
                }
                "continue" if !value.is_empty() => options.continue_after = Some(value.clone()),
                "fieldSelector" if !value.is_empty() => {
                    options.name = Some(field_equals(value, "metadata.name")?);
                }
                "watch" if value != "false" && value != "0" => {
                    return Err(ApiError::bad_request(
                        "watch is not supported by the fake yet",
                    ));
                }
                _ => {}
            }
        }
        Ok(options)
    }
}

/// The value of a field selector that is exactly `field=VALUE` (or `field==VALUE`), the one
/// form the fake supports where it supports field selectors.
pub(super) fn field_equals(selector: &str, field: &str) -> Result<String, ApiError> {
    match selector.split_once('=') {
        Some((name, value)) if name == field && !value.contains(',') => {
            Ok(value.trim_start_matches('=').to_owned())
        }
        _ => Err(ApiError::bad_request(format!(
            "fieldSelector {selector:?}: only {field}=VALUE is supported here by the fake"
        ))),
    }
}

/// An equality-based label selector: every requirement must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct LabelSelector {
    requirements: Vec<Requirement>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    /// Also true when the label is absent, as in Kubernetes.
    NotEquals(String, String),
    Exists(String),
    NotExists(String),
}

impl LabelSelector {
    pub(super) fn parse(text: &str) -> Result<Self, ApiError> {
        let invalid = |why: &str| {
            ApiError::bad_request(format!(
                "unable to parse requirement: labelSelector {text:?}: {why}"
            ))
        };
        if text.contains('(') {
            return Err(invalid(
                "set-based requirements (in, notin) are not supported by the fake",
            ));
        }
        let mut requirements = Vec::new();
        for term in text.split(',').map(str::trim) {
            if term.is_empty() {
                if text.trim().is_empty() {
                    continue;
                }
                return Err(invalid("empty requirement"));
            }
            let requirement = if let Some((key, value)) = term.split_once("!=") {
                Requirement::NotEquals(label_key(key, &invalid)?, label_value(value, &invalid)?)
            } else if let Some((key, value)) = term.split_once("==").or(term.split_once('=')) {
                Requirement::Equals(label_key(key, &invalid)?, label_value(value, &invalid)?)
            } else if let Some(key) = term.strip_prefix('!') {
                Requirement::NotExists(label_key(key, &invalid)?)
            } else {
                Requirement::Exists(label_key(term, &invalid)?)
            };
            requirements.push(requirement);
        }
        Ok(Self { requirements })
    }

    /// Whether an object with `labels` (its `metadata.labels`, if any) is selected.
    pub(super) fn matches(&self, labels: Option<&Value>) -> bool {
        let label = |key: &str| labels.and_then(|labels| labels.get(key)?.as_str());
        self.requirements
            .iter()
            .all(|requirement| match requirement {
                Requirement::Equals(key, value) => label(key) == Some(value.as_str()),
                Requirement::NotEquals(key, value) => label(key) != Some(value.as_str()),
                Requirement::Exists(key) => label(key).is_some(),
                Requirement::NotExists(key) => label(key).is_none(),
            })
    }
}

fn label_key(key: &str, invalid: &impl Fn(&str) -> ApiError) -> Result<String, ApiError> {
    let key = key.trim();
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-_./".contains(c);
    if key.is_empty() || !key.chars().all(allowed) {
        return Err(invalid(&format!("invalid label key {key:?}")));
    }
    Ok(key.to_owned())
}

fn label_value(value: &str, invalid: &impl Fn(&str) -> ApiError) -> Result<String, ApiError> {
    let value = value.trim();
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    if value.len() > 63 || !value.chars().all(allowed) {
        return Err(invalid(&format!("invalid label value {value:?}")));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // A failed unwrap is a failed test.
mod tests {
    use serde_json::json;

    use super::*;

    fn selects(selector: &str, labels: Value) -> bool {
        LabelSelector::parse(selector)
            .unwrap()
            .matches(labels.get("labels"))
    }

    #[test]
    fn equality_selectors_match_as_in_kubernetes() {
        let web = json!({"labels": {"app": "web", "tier": "front"}});
        assert!(selects("", web.clone()));
        assert!(selects("app=web", web.clone()));
        assert!(selects("app==web, tier=front", web.clone()));
        assert!(!selects("app=web,tier=back", web.clone()));
        assert!(selects("app!=db", web.clone()));
        assert!(selects("app!=db", json!({})));
        assert!(!selects("app!=web", web.clone()));
        assert!(selects("tier", web.clone()));
        assert!(!selects("!tier", web.clone()));
        assert!(selects("!owner", web));
        assert!(!selects("app=web", json!({})));
    }

    #[test]
    fn unsupported_or_malformed_selectors_are_refused() {
        for selector in ["env in (a,b)", "app=web,", "=web", "app=we b", "a b"] {
            let error = LabelSelector::parse(selector).unwrap_err();
            assert_eq!(
                (error.code, error.reason),
                (400, "BadRequest"),
                "{selector}"
            );
        }
    }

    #[test]
    fn list_options_read_limit_and_continue_and_refuse_watch() {
        let query = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let options =
            ListOptions::parse(&query(&[("limit", "2"), ("continue", "default/b")])).unwrap();
        assert_eq!(options.limit, Some(2));
        assert_eq!(options.continue_after.as_deref(), Some("default/b"));
        assert_eq!(
            ListOptions::parse(&query(&[("limit", "0")])).unwrap().limit,
            None
        );
        assert!(ListOptions::parse(&query(&[("limit", "-1")])).is_err());
        assert!(ListOptions::parse(&query(&[("watch", "true")])).is_err());
        assert!(ListOptions::parse(&query(&[("watch", "false")])).is_ok());
        assert!(ListOptions::parse(&query(&[("fieldSelector", "spec.nodeName=n")])).is_err());
        assert_eq!(
            ListOptions::parse(&query(&[("fieldSelector", "metadata.name=run-1")]))
                .unwrap()
                .name
                .as_deref(),
            Some("run-1")
        );
    }
}
