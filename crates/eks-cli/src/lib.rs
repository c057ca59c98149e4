//! What every eks-* binary shares, so each `main` stays a few lines: the AWS, wait and
//! logging flags; logging to stderr; SIGINT/SIGTERM handling; and the result contract:
//! exactly one JSON line on stdout, last, with an exit code from one table.
//!
//! This crate prints (eks-core never does); it is the only place that writes to stdout.

use std::future::Future;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, ValueEnum};
use eks_core::output::{Envelope, ErrorBody};
use eks_core::{AwsOptions, Error, Failure, InputError, Interrupt, Signal};
use serde::Serialize;

pub mod create_cluster;
pub mod delete_cluster;
pub mod fargate;
pub mod kubeconfig;
pub mod nodegroup;
pub mod pod;
pub mod token;
pub mod wait;

/// How to reach AWS; every flag is also an environment variable for container users.
#[derive(Debug, Clone, Args)]
pub struct AwsArgs {
    /// AWS region [default: AWS_REGION, AWS_DEFAULT_REGION, or the profile's region]
    #[arg(long, env = "EKS_REGION", global = true)]
    pub region: Option<String>,
    /// Named AWS profile [default: AWS_PROFILE, or "default"]
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// Assume this IAM role through STS before calling EKS
    #[arg(long, env = "EKS_ROLE_ARN", global = true)]
    pub role_arn: Option<String>,
    /// Session name for --role-arn [default: eks-operators-<unix time>]
    #[arg(long, env = "EKS_ROLE_SESSION_NAME", global = true)]
    pub role_session_name: Option<String>,
    /// External ID for --role-arn
    #[arg(long, env = "EKS_EXTERNAL_ID", global = true)]
    pub external_id: Option<String>,
    /// EKS endpoint URL (AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_EKS are honoured too)
    #[arg(long, env = "EKS_ENDPOINT_URL", global = true)]
    pub endpoint_url: Option<String>,
}

impl AwsArgs {
    pub fn options(&self) -> AwsOptions {
        AwsOptions {
            region: self.region.clone(),
            profile: self.profile.clone(),
            role_arn: self.role_arn.clone(),
            role_session_name: self.role_session_name.clone(),
            external_id: self.external_id.clone(),
            endpoint_url: self.endpoint_url.clone(),
        }
    }

    /// Validate and load the configuration. No API call is made.
    pub async fn sdk_config(&self) -> Result<eks_core::aws_config::SdkConfig, Error> {
        self.options().load().await
    }

    /// Validate, load the configuration and build an EKS client. No API call is made.
    pub async fn eks_client(&self) -> Result<eks_core::aws_sdk_eks::Client, Error> {
        let options = self.options();
        let config = options.load().await?;
        Ok(options.eks_client(&config))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Logging to stderr.
#[derive(Debug, Clone, Args)]
pub struct LogArgs {
    /// Log format on stderr
    #[arg(
        long,
        value_enum,
        default_value = "text",
        env = "EKS_LOG_FORMAT",
        global = true
    )]
    pub log_format: LogFormat,
    /// More logging (-v debug, -vv trace)
    #[arg(short, long, action = clap::ArgAction::Count, global = true, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Less logging (-q warnings only, -qq errors only)
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub quiet: u8,
}

/// Airflow's `wait_for_completion`, `waiter_delay` and `waiter_max_attempts`. Defaults
/// differ per operation, as in Airflow; each binary sets them with [`run`]'s `defaults`.
#[derive(Debug, Clone, Args)]
pub struct WaitArgs {
    /// Wait until the operation has completed (the resource is ACTIVE, or gone)
    #[arg(
        long = "wait-for-completion",
        visible_alias = "wait",
        env = "EKS_WAIT_FOR_COMPLETION",
        num_args = 0..=1,
        require_equals = true,
        default_value = "false",
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new(),
    )]
    pub wait_for_completion: bool,
    #[command(flatten)]
    pub waiter: WaiterArgs,
}

impl WaitArgs {
    /// The waiter's options when `--wait-for-completion` was given.
    pub fn wait_options(&self) -> Option<eks_core::eks::WaitOptions> {
        self.wait_for_completion.then(|| self.waiter.options())
    }
}

/// Poll interval and count for any wait.
#[derive(Debug, Clone, Args)]
pub struct WaiterArgs {
    /// Seconds between two polls (decimals allowed, > 0)
    #[arg(long, env = "EKS_WAITER_DELAY", default_value = "30", value_parser = parse_delay, global = true)]
    pub waiter_delay: Duration,
    /// Polls before giving up (>= 1)
    #[arg(long, env = "EKS_WAITER_MAX_ATTEMPTS", default_value = "40", value_parser = clap::value_parser!(u32).range(1..), global = true)]
    pub waiter_max_attempts: u32,
}

impl WaiterArgs {
    pub fn options(&self) -> eks_core::eks::WaitOptions {
        eks_core::eks::WaitOptions {
            delay: self.waiter_delay,
            max_attempts: self.waiter_max_attempts,
        }
    }
}

pub(crate) fn parse_delay(value: &str) -> Result<Duration, String> {
    let secs: f64 = value
        .parse()
        .map_err(|_| format!("{value:?} is not a number of seconds"))?;
    if !secs.is_finite() || secs <= 0.0 || secs > 86_400.0 {
        return Err(format!(
            "{value:?} is outside the allowed range: more than 0 and at most 86400 seconds"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `--if-exists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IfExistsArg {
    Fail,
    Reuse,
}

impl From<IfExistsArg> for eks_core::eks::IfExists {
    fn from(v: IfExistsArg) -> Self {
        match v {
            IfExistsArg::Fail => eks_core::eks::IfExists::Fail,
            IfExistsArg::Reuse => eks_core::eks::IfExists::Reuse,
        }
    }
}

/// `--if-missing`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IfMissingArg {
    Fail,
    Ok,
}

impl From<IfMissingArg> for eks_core::eks::IfMissing {
    fn from(v: IfMissingArg) -> Self {
        match v {
            IfMissingArg::Fail => eks_core::eks::IfMissing::Fail,
            IfMissingArg::Ok => eks_core::eks::IfMissing::Ok,
        }
    }
}

/// A field set both by a flag and inside a kwargs object.
pub(crate) fn flag_conflict(field: &str, flag: &str, kwargs_flag: &str) -> InputError {
    InputError::Kwargs(eks_core::eks::kwargs::KwargsError::Conflict {
        field: field.to_owned(),
        flag: flag.to_owned(),
        kwargs_flag: kwargs_flag.to_owned(),
    })
}

/// A value that must be given, by its flag or in a kwargs object.
pub(crate) fn required<'a>(
    value: Option<&'a str>,
    flag: &str,
    what: &str,
) -> Result<&'a str, InputError> {
    match value {
        Some(v) if !v.trim().is_empty() => Ok(v),
        _ => Err(InputError::invalid(flag, format!("required: {what}"))),
    }
}

/// Airflow's default Fargate selector: pods in the `default` namespace.
pub(crate) fn default_selectors() -> Vec<eks_core::eks::kwargs::FargateProfileSelector> {
    vec![eks_core::eks::kwargs::FargateProfileSelector {
        namespace: Some("default".to_owned()),
        labels: None,
    }]
}

/// EKS takes 1 to 5 selectors, each with a namespace.
pub(crate) fn check_selectors(
    selectors: &[eks_core::eks::kwargs::FargateProfileSelector],
    flag: &str,
) -> Result<(), InputError> {
    if selectors.is_empty() || selectors.len() > 5 {
        return Err(InputError::invalid(
            flag,
            format!(
                "{} selector(s) given; a Fargate profile takes 1 to 5",
                selectors.len()
            ),
        ));
    }
    for (i, s) in selectors.iter().enumerate() {
        if s.namespace.as_deref().is_none_or(|n| n.trim().is_empty()) {
            return Err(InputError::invalid(
                flag,
                format!("selector [{i}] has no namespace; each selector needs one"),
            ));
        }
    }
    Ok(())
}

/// A string map flag: a JSON object, or `key=value,key=value`.
pub(crate) fn parse_string_map(
    flag: &str,
    value: &str,
) -> Result<std::collections::HashMap<String, String>, InputError> {
    let trimmed = value.trim();
    if trimmed.starts_with('{') || trimmed.starts_with('@') {
        let json = eks_core::eks::kwargs::read_json_arg(flag, trimmed)?;
        return Ok(eks_core::eks::kwargs::parse_json(flag, &json)?);
    }
    let mut map = std::collections::HashMap::new();
    for pair in trimmed.split(',').filter(|p| !p.trim().is_empty()) {
        let Some((k, v)) = pair.split_once('=') else {
            return Err(InputError::invalid(
                flag,
                format!("{pair:?} is not key=value; expected a JSON object or key=value,key=value"),
            ));
        };
        if k.trim().is_empty() {
            return Err(InputError::invalid(
                flag,
                format!("{pair:?} has an empty key"),
            ));
        }
        map.insert(k.trim().to_owned(), v.trim().to_owned());
    }
    Ok(map)
}

/// A binary's parsed command line: it exposes its logging flags.
pub trait Cli: FromArgMatches + CommandFactory {
    fn log(&self) -> &LogArgs;
}

/// Run a binary: parse, log to stderr, run `body` on a runtime with signal handling, print
/// the one JSON line, and return the exit code. `defaults` overrides flag defaults by arg id
/// (e.g. `("waiter_delay", "10")`).
pub fn run<C, T, F, Fut>(
    operation: &'static str,
    defaults: &[(&'static str, &'static str)],
    body: F,
) -> ExitCode
where
    C: Cli,
    T: Serialize,
    F: FnOnce(C, Interrupt) -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    run_line::<C, _, _>(operation, defaults, |cli, interrupt| async move {
        let value = body(cli, interrupt).await?;
        Ok(render(&Envelope::new(operation, value)))
    })
}

/// As [`run`], for a binary whose success line is its own (kubectl's ExecCredential, a bare
/// token): `body` returns the line to print.
pub fn run_line<C, F, Fut>(
    operation: &'static str,
    defaults: &[(&'static str, &'static str)],
    body: F,
) -> ExitCode
where
    C: Cli,
    F: FnOnce(C, Interrupt) -> Fut,
    Fut: Future<Output = Result<String, Failure>>,
{
    let cli = match parse::<C>(defaults, std::env::args_os()) {
        Ok(cli) => cli,
        Err(code) => {
            if let Some(failure) = code.1 {
                emit_failure(operation, &failure);
            }
            return ExitCode::from(code.0);
        }
    };
    init_logging(cli.log());

    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let failure = Failure::from(Error::Internal(format!(
                "cannot start the async runtime: {e}"
            )));
            emit_failure(operation, &failure);
            return ExitCode::from(1);
        }
    };
    let (sender, interrupt) = Interrupt::channel();
    let result = runtime.block_on(async {
        tokio::spawn(listen_for_signals(sender, operation));
        body(cli, interrupt).await
    });
    // Stop every task before printing, so nothing is written after the JSON line.
    runtime.shutdown_timeout(Duration::from_millis(100));

    match result {
        Ok(line) => {
            print_raw(&line);
            ExitCode::SUCCESS
        }
        Err(failure) => {
            let code = failure.error.kind().exit_code(failure.error.signal());
            emit_failure(operation, &failure);
            ExitCode::from(code)
        }
    }
}

type ParseFailure = (u8, Option<Box<Failure>>);

/// Parse `args` with the binary's own defaults applied.
fn parse<C: Cli>(
    defaults: &[(&'static str, &'static str)],
    args: impl IntoIterator<Item = impl Into<std::ffi::OsString> + Clone>,
) -> Result<C, ParseFailure> {
    let mut command = C::command();
    for &(id, value) in defaults {
        command = command.mut_arg(id, move |a| a.default_value(value));
    }
    let matches: ArgMatches = match command.try_get_matches_from(args) {
        Ok(m) => m,
        Err(e) => return Err(clap_failure(e)),
    };
    C::from_arg_matches(&matches).map_err(clap_failure)
}

fn clap_failure(e: clap::Error) -> ParseFailure {
    use clap::error::ErrorKind as K;
    if matches!(
        e.kind(),
        K::DisplayHelp | K::DisplayVersion | K::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        let code = if e.kind() == K::DisplayHelpOnMissingArgumentOrSubcommand {
            2
        } else {
            0
        };
        return (code, None);
    }
    // clap's message on one line: the error and its details and tips, without the usage block.
    let rendered = e.render().to_string();
    let message = rendered
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more information")
        })
        .map(|l| l.trim_start_matches("error:").trim())
        .collect::<Vec<_>>()
        .join(" ")
        .replace('\'', "");
    let failure = Failure::from(InputError::invalid("command line", message));
    (2, Some(Box::new(failure)))
}

fn init_logging(log: &LogArgs) {
    let ours = match (log.verbose, log.quiet) {
        (0, 0) => "info",
        (0, 1) => "warn",
        (0, _) => "error",
        (1, _) => "debug",
        _ => "trace",
    };
    // The AWS SDK never goes past debug: its trace output can include signed request headers.
    let aws = if log.verbose >= 2 {
        "debug"
    } else if log.quiet > 0 {
        "error"
    } else {
        "warn"
    };
    let filter = tracing_subscriber::EnvFilter::new(format!(
        "warn,eks_core={ours},eks_cli={ours},eks_create_cluster={ours},eks_delete_cluster={ours},\
         eks_create_nodegroup={ours},eks_delete_nodegroup={ours},eks_create_fargate_profile={ours},\
         eks_delete_fargate_profile={ours},eks_wait={ours},eks_token={ours},eks_kubeconfig={ours},eks_pod={ours},aws_config={aws},aws_smithy_runtime={aws},\
         aws_sdk_eks={aws},aws_sdk_sts={aws}"
    ));
    let builder = tracing_subscriber::fmt()
        .with_writer(stderr)
        .with_env_filter(filter)
        .with_target(false);
    let _ = match log.log_format {
        LogFormat::Text => builder.with_ansi(false).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

async fn listen_for_signals(sender: eks_core::InterruptSender, operation: &'static str) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        tracing::warn!("cannot listen for SIGINT/SIGTERM; a signal will end the process at once");
        return;
    };
    let mut received = 0;
    loop {
        let signal = tokio::select! {
            _ = int.recv() => Signal::Sigint,
            _ = term.recv() => Signal::Sigterm,
        };
        received += 1;
        if received == 1 {
            tracing::warn!("received {signal}: stopping (send it again to exit at once)");
            sender.raise(signal);
        } else {
            let failure = Failure::from(Error::Interrupted {
                signal,
                during: "stopping after an earlier signal".to_owned(),
            });
            emit_failure(operation, &failure);
            std::process::exit(i32::from(failure.error.kind().exit_code(Some(signal))));
        }
    }
}

/// The human message on stderr, then the JSON error line on stdout.
fn emit_failure(operation: &'static str, failure: &Failure) {
    let mut stderr = stderr().lock();
    let _ = writeln!(stderr, "error: {}", failure.error.describe());
    for left in &failure.left_behind {
        let _ = writeln!(
            stderr,
            "  left behind: {} ({}): {}",
            left.resource, left.status, left.note
        );
    }
    drop(stderr);
    print_line(&Envelope::new(operation, ErrorBody::from(failure)));
}

/// Whether this process has written to stderr (logs, a pod's log, a message).
static STDERR_USED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// stderr, for everything this crate writes there: marks it used, see [`let_stderr_settle`].
pub fn stderr() -> std::io::Stderr {
    STDERR_USED.store(true, std::sync::atomic::Ordering::Relaxed);
    std::io::stderr()
}

/// How long the reader of separate stdout and stderr pipes is given to take in the last
/// stderr line before the JSON line is written.
const STDERR_SETTLE: std::time::Duration = std::time::Duration::from_millis(10);

/// Docker (and so Airflow's DockerOperator, which takes the last line as the XCom) reads
/// stdout and stderr through two pipes, each drained by its own goroutine: a log line written
/// microseconds before the JSON line was seen delivered after it. When stderr was used and is
/// a pipe or socket other than stdout's, pause a moment so the last log line is taken in first.
fn let_stderr_settle() {
    use std::os::fd::AsFd;
    use std::os::unix::fs::{FileTypeExt, MetadataExt};

    if !STDERR_USED.load(std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    let metadata = |fd: std::os::fd::BorrowedFd<'_>| {
        fd.try_clone_to_owned()
            .ok()
            .and_then(|owned| std::fs::File::from(owned).metadata().ok())
    };
    let Some(err) = metadata(std::io::stderr().as_fd()) else {
        return;
    };
    let kind = err.file_type();
    if !(kind.is_fifo() || kind.is_socket()) {
        return;
    }
    // `2>&1` into one pipe keeps the order by itself.
    if metadata(std::io::stdout().as_fd())
        .is_some_and(|out| out.dev() == err.dev() && out.ino() == err.ino())
    {
        return;
    }
    std::thread::sleep(STDERR_SETTLE);
}

/// A value as one JSON line.
pub fn render<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| {
        format!(r#"{{"error":{{"kind":"internal","message":"cannot serialise the result: {e}"}}}}"#)
    })
}

/// One JSON line on stdout.
fn print_line<T: Serialize>(value: &T) {
    print_raw(&render(value));
}

/// One line on stdout. A closed pipe is not an error: the reader has gone.
fn print_raw(line: &str) {
    let_stderr_settle();
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}").and_then(|_| stdout.flush());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed<C: Cli>(defaults: &[(&'static str, &'static str)], args: &[&str]) -> C {
        match parse::<C>(defaults, args.iter().copied()) {
            Ok(c) => c,
            Err((code, failure)) => {
                panic!("exit {code}: {:?}", failure.map(|f| f.error.to_string()))
            }
        }
    }

    const BASE: &[&str] = &[
        "eks-create-cluster",
        "--cluster-name",
        "c",
        "--cluster-role-arn",
        "arn:aws:iam::123456789012:role/eks",
        "--resources-vpc-config",
        r#"{"subnetIds":["subnet-1","subnet-2"]}"#,
    ];

    #[test]
    fn each_operation_has_airflows_waiter_defaults() {
        let args: create_cluster::Args = parsed(create_cluster::DEFAULTS, BASE);
        assert_eq!(
            (
                args.wait.waiter.waiter_delay.as_secs(),
                args.wait.waiter.waiter_max_attempts
            ),
            (30, 40)
        );
        let fargate: fargate::CreateArgs = parsed(
            fargate::CREATE_DEFAULTS,
            &[
                "eks-create-fargate-profile",
                "--cluster-name",
                "c",
                "--fargate-profile-name",
                "p",
            ],
        );
        assert_eq!(
            (
                fargate.wait.waiter.waiter_delay.as_secs(),
                fargate.wait.waiter.waiter_max_attempts
            ),
            (10, 60)
        );
        let ng: nodegroup::CreateArgs = parsed(
            nodegroup::CREATE_DEFAULTS,
            &["eks-create-nodegroup", "--cluster-name", "c"],
        );
        assert_eq!(ng.wait.waiter.waiter_max_attempts, 80);
        let mut more = BASE.to_vec();
        more.extend(["--waiter-delay", "0.5"]);
        let args: create_cluster::Args = parsed(create_cluster::DEFAULTS, &more);
        assert_eq!(args.wait.waiter.waiter_delay, Duration::from_millis(500));
    }

    #[test]
    fn wait_flag_forms() {
        for (extra, expected) in [
            (vec![], false),
            (vec!["--wait"], true),
            (vec!["--wait-for-completion=false"], false),
            (vec!["--wait=yes"], true),
        ] {
            let mut args = BASE.to_vec();
            args.extend(extra.iter().copied());
            let parsed: create_cluster::Args = parsed(create_cluster::DEFAULTS, &args);
            assert_eq!(parsed.wait.wait_for_completion, expected, "{extra:?}");
        }
    }

    #[test]
    fn kwargs_and_flags_merge_into_one_request() {
        let mut args = BASE.to_vec();
        args.extend([
            "--compute",
            "fargate",
            "--fargate-pod-execution-role-arn",
            "arn:aws:iam::123456789012:role/pods",
            "--create-cluster-kwargs",
            r#"{"version":"1.30","tags":{"team":"data"},"logging":{"clusterLogging":[{"types":["api"],"enabled":true}]}}"#,
        ]);
        let plan = parsed::<create_cluster::Args>(create_cluster::DEFAULTS, &args)
            .plan()
            .expect("valid");
        assert_eq!(plan.request.name.as_deref(), Some("c"));
        assert_eq!(plan.request.version.as_deref(), Some("1.30"));
        assert!(plan.request.logging.is_some());
        let eks_core::eks::cluster::Compute::Fargate(profile) = plan.compute else {
            panic!("expected Fargate compute");
        };
        assert_eq!(profile.fargate_profile_name.as_deref(), Some("profile"));
        assert_eq!(
            profile.selectors.as_ref().map(Vec::len),
            Some(1),
            "Airflow's default selector"
        );
    }

    #[test]
    fn string_maps() {
        let m = parse_string_map("--labels", "a=1, b = two").expect("pairs");
        assert_eq!(m.get("b").map(String::as_str), Some("two"));
        let m = parse_string_map("--labels", r#"{"x":"y"}"#).expect("json");
        assert_eq!(m.len(), 1);
        assert!(parse_string_map("--labels", "=v").is_err());
        assert!(parse_string_map("--labels", r#"{"x":1}"#).is_err());
    }

    #[test]
    fn clap_errors_become_one_line_bad_input() {
        let Err((code, Some(failure))) =
            parse::<create_cluster::Args>(create_cluster::DEFAULTS, ["eks-create-cluster"])
        else {
            panic!("missing --cluster-name must fail");
        };
        assert_eq!(code, 2);
        let message = failure.error.to_string();
        assert!(
            message.contains("--cluster-name") && !message.contains('\n'),
            "{message}"
        );
        let Err((0, None)) = parse::<create_cluster::Args>(
            create_cluster::DEFAULTS,
            ["eks-create-cluster", "--help"],
        ) else {
            panic!("--help is not an error");
        };
    }
}
