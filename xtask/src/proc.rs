//! Running the real binaries as processes, the way Airflow's DockerOperator and scripts do,
//! and checking the output contract: exactly one JSON line on stdout, last.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Test credentials: fake values that must never appear in any output.
pub const ACCESS_KEY_ID: &str = "AKIDE2EXAMPLE00000000";
pub const SECRET_ACCESS_KEY: &str = "e2eSecretKeyThatMustNeverBePrinted0000000";
pub const SESSION_TOKEN: &str = "e2eSessionTokenThatMustNeverBePrinted";

/// The `target/` directory (`CARGO_TARGET_DIR` when set, as cargo does).
pub fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

/// Where the debug binaries are.
pub fn bin_dir(root: &Path) -> PathBuf {
    target_dir(root).join("debug")
}

/// A hermetic environment pointing the binaries at `endpoint`: no user AWS config is read.
pub fn env_for(endpoint: &str, home: &Path) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = vec![
        ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
        ("HOME".into(), home.display().to_string()),
        (
            "AWS_CONFIG_FILE".into(),
            home.join("aws-config").display().to_string(),
        ),
        (
            "AWS_SHARED_CREDENTIALS_FILE".into(),
            home.join("aws-credentials").display().to_string(),
        ),
        ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
        ("AWS_REGION".into(), "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID".into(), ACCESS_KEY_ID.into()),
        ("AWS_SECRET_ACCESS_KEY".into(), SECRET_ACCESS_KEY.into()),
        ("AWS_SESSION_TOKEN".into(), SESSION_TOKEN.into()),
        // Short SDK back-off so a throttling storm clears in seconds, not minutes.
        ("AWS_MAX_ATTEMPTS".into(), "6".into()),
    ];
    if !endpoint.is_empty() {
        // EKS only: STS stays regional, so tokens are signed for the host EKS expects.
        env.push(("AWS_ENDPOINT_URL_EKS".into(), endpoint.into()));
    }
    env
}

/// What a finished process did.
#[derive(Debug)]
pub struct Outcome {
    pub command: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Outcome {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// The result line, after checking the contract: exactly one line on stdout, JSON,
    /// with the schema version.
    pub fn json(&self) -> Result<Value, String> {
        let lines: Vec<&str> = self.stdout.lines().collect();
        if lines.len() != 1 || !self.stdout.ends_with('\n') {
            return Err(format!(
                "{}: expected exactly one line on stdout, got {:?}",
                self.command, self.stdout
            ));
        }
        let value: Value = serde_json::from_str(lines[0])
            .map_err(|e| format!("{}: stdout is not JSON ({e}): {}", self.command, lines[0]))?;
        if value["schema_version"] != 1 {
            return Err(format!("{}: no schema_version 1 in {value}", self.command));
        }
        for secret in [SECRET_ACCESS_KEY, SESSION_TOKEN] {
            if self.stdout.contains(secret) || self.stderr.contains(secret) {
                return Err(format!("{}: a secret appeared in the output", self.command));
            }
        }
        if self.stderr.contains("panicked") {
            return Err(format!("{}: panicked:\n{}", self.command, self.stderr));
        }
        Ok(value)
    }

    /// The exit code must be `code`; returns the JSON line.
    pub fn expect(&self, code: i32) -> Result<Value, String> {
        let json = self.json()?;
        if self.code() != Some(code) {
            return Err(format!(
                "{}: exit code {:?}, expected {code}\nstdout: {}\nstderr:\n{}",
                self.command,
                self.code(),
                self.stdout.trim(),
                tail(&self.stderr, 20)
            ));
        }
        Ok(json)
    }
}

pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A process being run, with its stderr readable line by line while it runs.
pub struct Running {
    pub command: String,
    child: Child,
    started: Instant,
    stderr_lines: mpsc::Receiver<String>,
    stderr_seen: Vec<String>,
    stdout: std::thread::JoinHandle<String>,
}

pub fn display(bin: &Path, args: &[String]) -> String {
    let name = bin
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut s = name;
    for a in args {
        s.push(' ');
        if a.is_empty() || a.contains(|c: char| c.is_whitespace() || "\"'{}[]$".contains(c)) {
            s.push('\'');
            s.push_str(a);
            s.push('\'');
        } else {
            s.push_str(a);
        }
    }
    s
}

pub fn spawn(bin: &Path, args: &[String], env: &[(String, String)]) -> Result<Running, String> {
    let command = display(bin, args);
    let mut child = Command::new(bin)
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e} (did `cargo build` run?)", bin.display()))?;
    let mut out = child.stdout.take().ok_or("no stdout")?;
    let err = child.stderr.take().ok_or("no stderr")?;
    let stdout = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Ok(Running {
        command,
        child,
        started: Instant::now(),
        stderr_lines: rx,
        stderr_seen: Vec::new(),
        stdout,
    })
}

impl Running {
    /// Block until a stderr line contains `needle` (or the process ends, or `timeout`).
    pub fn await_stderr(&mut self, needle: &str, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr_lines.recv_timeout(left) {
                Ok(line) => {
                    let hit = line.contains(needle);
                    self.stderr_seen.push(line);
                    if hit {
                        return Ok(());
                    }
                }
                Err(_) => {
                    return Err(format!(
                        "{}: no stderr line containing {needle:?} within {timeout:?}; saw:\n{}",
                        self.command,
                        self.stderr_seen.join("\n")
                    ));
                }
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn signal(&self, signal: &str) -> Result<(), String> {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .map_err(|e| format!("kill: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("kill -{signal} failed"))
        }
    }

    pub fn finish(mut self, timeout: Duration) -> Result<Outcome, String> {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return Err(format!(
                    "{}: still running after {timeout:?}; killed",
                    self.command
                ));
            }
            // Drain stderr while waiting so the child never blocks on a full pipe.
            if let Ok(line) = self.stderr_lines.recv_timeout(Duration::from_millis(20)) {
                self.stderr_seen.push(line);
            }
        };
        let elapsed = self.started.elapsed();
        let stdout = self.stdout.join().unwrap_or_default();
        while let Ok(line) = self.stderr_lines.recv_timeout(Duration::from_millis(200)) {
            self.stderr_seen.push(line);
        }
        let mut stderr = self.stderr_seen.join("\n");
        if !stderr.is_empty() {
            stderr.push('\n');
        }
        Ok(Outcome {
            command: self.command,
            status,
            stdout,
            stderr,
            elapsed,
        })
    }
}

/// Run to completion.
pub fn run(
    bin: &Path,
    args: &[String],
    env: &[(String, String)],
    timeout: Duration,
) -> Result<Outcome, String> {
    spawn(bin, args, env)?.finish(timeout)
}
