//! `eks-token`: an EKS bearer token as a kubectl exec credential, as `aws eks get-token`
//! prints it, in milliseconds. kubectl runs the plugin on every invocation, so the
//! credential is cached on disk (0600) and reused until shortly before it expires.
//!
//! The token is this binary's product: it goes to stdout only, never to a log.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Parser, ValueEnum};
use eks_core::token::{self, EksToken};
use eks_core::{Failure, InputError, Interrupt, validate};
use serde::{Deserialize, Serialize};

use crate::{AwsArgs, Cli, LogArgs, render};

/// Print an EKS bearer token as a kubectl exec credential (ExecCredential JSON on one line).
#[derive(Debug, Parser)]
#[command(name = "eks-token", version)]
pub struct Args {
    /// Cluster the token is for (signed in as x-k8s-aws-id)
    #[arg(long, env = "EKS_CLUSTER_NAME")]
    pub cluster_name: String,
    /// What to print: kubectl's ExecCredential, the bare token, or our JSON result line
    #[arg(
        long,
        value_enum,
        default_value = "exec-credential",
        env = "EKS_TOKEN_OUTPUT"
    )]
    pub output: OutputArg,
    /// Do not read or write the on-disk credential cache
    #[arg(long, env = "EKS_TOKEN_NO_CACHE")]
    pub no_cache: bool,
    /// Cache directory [default: $XDG_CACHE_HOME/eks-operators/tokens or ~/.cache/eks-operators/tokens]
    #[arg(long, env = "EKS_TOKEN_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputArg {
    ExecCredential,
    Token,
    Json,
}

impl Cli for Args {
    fn log(&self) -> &LogArgs {
        &self.log
    }
}

pub const V1: &str = "client.authentication.k8s.io/v1";
pub const V1BETA1: &str = "client.authentication.k8s.io/v1beta1";
const V1ALPHA1: &str = "client.authentication.k8s.io/v1alpha1";

/// The ExecCredential apiVersion kubectl asked for in `KUBERNETES_EXEC_INFO`, else v1beta1.
pub fn exec_api_version(exec_info: Option<&str>) -> Result<&'static str, InputError> {
    let Some(info) = exec_info.filter(|s| !s.trim().is_empty()) else {
        return Ok(V1BETA1);
    };
    #[derive(Deserialize)]
    struct ExecInfo {
        #[serde(rename = "apiVersion")]
        api_version: Option<String>,
    }
    let parsed: ExecInfo = serde_json::from_str(info).map_err(|e| {
        InputError::invalid(
            "KUBERNETES_EXEC_INFO",
            format!("not the JSON kubectl sets ({e}); unset it or upgrade kubectl"),
        )
    })?;
    match parsed.api_version.as_deref() {
        None => Ok(V1BETA1),
        Some(V1) => Ok(V1),
        Some(V1BETA1) => Ok(V1BETA1),
        Some(V1ALPHA1) => Ok(V1ALPHA1),
        Some(other) => Err(InputError::invalid(
            "KUBERNETES_EXEC_INFO",
            format!(
                "apiVersion {other:?} is not one this plugin speaks; allowed: {V1}, {V1BETA1}, {V1ALPHA1}"
            ),
        )),
    }
}

/// kubectl's ExecCredential.
#[derive(Debug, Serialize)]
struct ExecCredential<'a> {
    kind: &'static str,
    #[serde(rename = "apiVersion")]
    api_version: &'a str,
    spec: serde_json::Map<String, serde_json::Value>,
    status: ExecStatus<'a>,
}

#[derive(Debug, Serialize)]
struct ExecStatus<'a> {
    #[serde(rename = "expirationTimestamp")]
    expiration_timestamp: String,
    token: &'a str,
}

/// `--output json`.
#[derive(Debug, Serialize)]
struct TokenOutput<'a> {
    cluster_name: &'a str,
    region: &'a str,
    token: &'a str,
    expiration_timestamp: String,
    from_cache: bool,
}

/// A cached credential: the key is stored too, so a hash collision is harmless.
#[derive(Debug, Serialize, Deserialize)]
struct CacheEntry {
    key: String,
    token: String,
    signed_at: u64,
    expires_at: u64,
}

/// Reuse a cached token only with at least this long left: kubectl may hold it a while.
const CACHE_MARGIN: Duration = Duration::from_secs(120);

fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".cache"))
        })?;
    Some(base.join("eks-operators").join("tokens"))
}

/// Everything that changes which token is right: cluster, region, identity, endpoint.
fn cache_key(args: &Args, region: &str) -> String {
    let profile = args
        .aws
        .profile
        .clone()
        .or_else(|| std::env::var("AWS_PROFILE").ok())
        .unwrap_or_default();
    let access_key = std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_default();
    let sts = std::env::var("AWS_ENDPOINT_URL_STS")
        .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
        .unwrap_or_default();
    [
        args.cluster_name.as_str(),
        region,
        args.aws.role_arn.as_deref().unwrap_or_default(),
        args.aws.external_id.as_deref().unwrap_or_default(),
        &profile,
        &access_key,
        &sts,
    ]
    .join("\u{1f}")
}

/// FNV-1a: a stable file name for a key; the key inside the file is what is trusted.
fn file_name(key: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in key.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}.json")
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

fn read_cache(dir: &Path, key: &str) -> Option<EksToken> {
    let text = std::fs::read_to_string(dir.join(file_name(key))).ok()?;
    let entry: CacheEntry = serde_json::from_str(&text).ok()?;
    if entry.key != key {
        return None;
    }
    let expires_at = UNIX_EPOCH + Duration::from_secs(entry.expires_at);
    let left = expires_at.duration_since(SystemTime::now()).ok()?;
    if left < CACHE_MARGIN {
        return None;
    }
    Some(EksToken::from_parts(
        entry.token,
        UNIX_EPOCH + Duration::from_secs(entry.signed_at),
        expires_at,
    ))
}

/// Best effort: a cache that cannot be written costs a token signing next time, nothing more.
fn write_cache(dir: &Path, key: &str, token: &EksToken) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let entry = CacheEntry {
        key: key.to_owned(),
        token: token.as_str().to_owned(),
        signed_at: secs(token.signed_at),
        expires_at: secs(token.expires_at),
    };
    let path = dir.join(file_name(key));
    let tmp = dir.join(format!(".{}.{}", file_name(key), std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(render(&entry).as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, &path)
}

pub async fn run(args: Args, _interrupt: Interrupt) -> Result<String, Failure> {
    validate::cluster_name("--cluster-name", &args.cluster_name)?;
    let exec_info = std::env::var("KUBERNETES_EXEC_INFO").ok();
    let api_version = exec_api_version(exec_info.as_deref())?;
    let config = args.aws.sdk_config().await?;
    let region = config
        .region()
        .map(|r| r.as_ref().to_owned())
        .unwrap_or_default();

    let cache_dir = if args.no_cache {
        None
    } else {
        args.cache_dir.clone().or_else(default_cache_dir)
    };
    let key = cache_key(&args, &region);
    let cached = cache_dir.as_deref().and_then(|dir| read_cache(dir, &key));
    let from_cache = cached.is_some();
    let token = match cached {
        Some(token) => token,
        None => {
            let token = token::generate(&config, &args.cluster_name).await?;
            if let Some(dir) = &cache_dir
                && let Err(e) = write_cache(dir, &key, &token)
            {
                tracing::debug!("token cache not written in {}: {e}", dir.display());
            }
            token
        }
    };
    Ok(match args.output {
        OutputArg::Token => token.as_str().to_owned(),
        OutputArg::ExecCredential => render(&ExecCredential {
            kind: "ExecCredential",
            api_version,
            spec: serde_json::Map::new(),
            status: ExecStatus {
                expiration_timestamp: token.expiration_timestamp(),
                token: token.as_str(),
            },
        }),
        OutputArg::Json => render(&eks_core::output::Envelope::new(
            "token",
            TokenOutput {
                cluster_name: &args.cluster_name,
                region: &region,
                token: token.as_str(),
                expiration_timestamp: token.expiration_timestamp(),
                from_cache,
            },
        )),
    })
}

pub fn main() -> std::process::ExitCode {
    crate::run_line::<Args, _, _>("token", &[], run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_info_picks_the_api_version() {
        assert_eq!(exec_api_version(None).expect("default"), V1BETA1);
        let v1 = r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}"#;
        assert_eq!(exec_api_version(Some(v1)).expect("v1"), V1);
        let err = exec_api_version(Some("{not json"))
            .expect_err("malformed")
            .to_string();
        assert!(err.starts_with("KUBERNETES_EXEC_INFO: "), "{err}");
        let err = exec_api_version(Some(r#"{"apiVersion":"client.authentication.k8s.io/v2"}"#))
            .expect_err("unknown")
            .to_string();
        assert!(err.contains("v2") && err.contains(V1BETA1), "{err}");
    }

    #[test]
    fn cache_round_trip_and_expiry() {
        let dir = std::env::temp_dir().join(format!("eks-token-cache-{}", std::process::id()));
        let now = SystemTime::now();
        let fresh = EksToken::from_parts(
            "k8s-aws-v1.fresh".into(),
            now,
            now + Duration::from_secs(600),
        );
        write_cache(&dir, "key-a", &fresh).expect("written");
        let read = read_cache(&dir, "key-a").expect("cached");
        assert_eq!(read.as_str(), "k8s-aws-v1.fresh");
        assert!(read_cache(&dir, "key-b").is_none(), "another key");
        let stale = EksToken::from_parts(
            "k8s-aws-v1.stale".into(),
            now,
            now + Duration::from_secs(60),
        );
        write_cache(&dir, "key-a", &stale).expect("written");
        assert!(read_cache(&dir, "key-a").is_none(), "too close to expiry");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join(file_name("key-a")))
            .expect("file")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
