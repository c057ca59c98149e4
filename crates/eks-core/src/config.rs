//! AWS configuration shared by every binary: region, credentials (the standard chain, or a
//! role assumed through STS first), endpoint overrides, and one retry and timeout policy.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;

use crate::error::{Error, InputError};
use crate::validate;

/// How to reach AWS. Everything optional falls back to the SDK's standard chains.
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    /// `--region`; else `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile.
    pub region: Option<String>,
    /// `--profile`; else `AWS_PROFILE`.
    pub profile: Option<String>,
    /// `--role-arn`: assume this role through STS before any EKS call.
    pub role_arn: Option<String>,
    pub role_session_name: Option<String>,
    pub external_id: Option<String>,
    /// `--endpoint-url`: the EKS endpoint. `AWS_ENDPOINT_URL(_EKS|_STS)` are honoured by the SDK.
    pub endpoint_url: Option<String>,
}

/// Attempts per API call, including the first, unless `AWS_MAX_ATTEMPTS` says otherwise:
/// more than the SDK's 3 so that a throttling storm is ridden out.
const DEFAULT_MAX_ATTEMPTS: u32 = 6;
/// Bound on one HTTP attempt, so that a dropped connection cannot hang a task for ever.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);

impl AwsOptions {
    /// Check the flags' syntax; no network.
    pub fn validate(&self) -> Result<(), InputError> {
        if let Some(region) = &self.region {
            validate::region("--region", region)?;
        }
        if let Some(arn) = &self.role_arn {
            validate::role_arn("--role-arn", arn)?;
        }
        if let Some(name) = &self.role_session_name {
            let ok = (2..=64).contains(&name.len())
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+=,.@-_".contains(c));
            if !ok {
                return Err(InputError::invalid(
                    "--role-session-name",
                    format!(
                        "invalid session name {name:?}: 2 to 64 characters of letters, digits and +=,.@-_"
                    ),
                ));
            }
            if self.role_arn.is_none() {
                return Err(InputError::invalid(
                    "--role-session-name",
                    "given without --role-arn; it names the session of the assumed role",
                ));
            }
        }
        if let Some(id) = &self.external_id {
            if self.role_arn.is_none() {
                return Err(InputError::invalid(
                    "--external-id",
                    "given without --role-arn; it is passed when assuming that role",
                ));
            }
            if !(2..=1224).contains(&id.len()) {
                return Err(InputError::invalid(
                    "--external-id",
                    format!("length {} is outside 2..=1224", id.len()),
                ));
            }
        }
        if let Some(url) = &self.endpoint_url {
            validate::endpoint_url("--endpoint-url", url)?;
        }
        if let Some(profile) = &self.profile {
            validate::non_empty("--profile", profile)?;
        }
        Ok(())
    }

    /// Resolve the configuration. Makes no API call: credentials are fetched lazily.
    pub async fn load(&self) -> Result<SdkConfig, Error> {
        self.validate()?;
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .build(),
        );
        if std::env::var_os("AWS_MAX_ATTEMPTS").is_none() {
            loader = loader.retry_config(
                RetryConfig::standard()
                    .with_max_attempts(DEFAULT_MAX_ATTEMPTS)
                    .with_max_backoff(Duration::from_secs(10)),
            );
        }
        if let Some(region) = &self.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(profile) = &self.profile {
            loader = loader.profile_name(profile);
        }
        let base = loader.load().await;
        let Some(region) = base.region() else {
            return Err(Error::Config(
                "no region: pass --region or set AWS_REGION (or a region in the AWS profile)"
                    .to_owned(),
            ));
        };
        validate::region("region (from AWS_REGION or the profile)", region.as_ref())?;

        let Some(role_arn) = &self.role_arn else {
            return Ok(base);
        };
        let mut assume = aws_config::sts::AssumeRoleProvider::builder(role_arn).session_name(
            self.role_session_name
                .clone()
                .unwrap_or_else(default_session_name),
        );
        if let Some(id) = &self.external_id {
            assume = assume.external_id(id);
        }
        let provider = assume.configure(&base).build().await;
        Ok(base
            .into_builder()
            .credentials_provider(SharedCredentialsProvider::new(provider))
            .build())
    }

    /// An EKS client for `config`, honouring `--endpoint-url`.
    pub fn eks_client(&self, config: &SdkConfig) -> aws_sdk_eks::Client {
        let mut builder = aws_sdk_eks::config::Builder::from(config);
        if let Some(url) = &self.endpoint_url {
            builder = builder.endpoint_url(url);
        }
        aws_sdk_eks::Client::from_conf(builder.build())
    }
}

/// Airflow names assumed-role sessions after the connection; we name them after ourselves
/// so CloudTrail shows which tool acted.
fn default_session_name() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    format!("eks-operators-{secs}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_name_needs_a_role() {
        let opts = AwsOptions {
            role_session_name: Some("abc".into()),
            ..Default::default()
        };
        let err = opts.validate().expect_err("no role").to_string();
        assert!(
            err.starts_with("--role-session-name: given without --role-arn"),
            "{err}"
        );
    }

    #[test]
    fn bad_region_named() {
        let opts = AwsOptions {
            region: Some("mars-1".into()),
            ..Default::default()
        };
        let err = opts.validate().expect_err("bad region").to_string();
        assert!(err.contains("--region: unknown region \"mars-1\""), "{err}");
    }

    #[test]
    fn default_session_name_is_valid() {
        let name = default_session_name();
        let opts = AwsOptions {
            role_arn: Some("arn:aws:iam::123456789012:role/x".into()),
            role_session_name: Some(name),
            ..Default::default()
        };
        opts.validate().expect("valid");
    }
}
