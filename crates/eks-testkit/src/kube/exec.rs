//! `GET|POST .../pods/{name}/exec`: the WebSocket handshake (RFC 6455 with the Kubernetes
//! channel subprotocols `v4.channel.k8s.io` and `channel.k8s.io`), the checks the API server
//! makes before upgrading, and running the command in the container's sandbox while its
//! output goes to the client as binary frames whose first byte is the channel: 1 stdout,
//! 2 stderr, 3 the exit status (a `Status` object with v4, plain text otherwise).

use std::sync::{Mutex, Weak};

use base64::Engine as _;
use hyper::header::{CONNECTION, HeaderMap, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_PROTOCOL, UPGRADE};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, watch};

use super::api::Answer;
use super::kubelet::{ContainerSandbox, container_names};
use super::script::{self, Program, Sandbox, Signal};
use super::state::State;
use super::wire::ApiError;

/// What RFC 6455 appends to the client's key before hashing it into `Sec-WebSocket-Accept`.
const WEBSOCKET_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// The subprotocols the fake speaks, preferred first.
const PROTOCOLS: [&str; 2] = ["v4.channel.k8s.io", "channel.k8s.io"];
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const STATUS: u8 = 3;
const OPCODE_BINARY: u8 = 0x2;
const OPCODE_CLOSE: u8 = 0x8;
/// A close frame's status code for a normal closure.
const CLOSE_NORMAL: u16 = 1000;

/// A valid WebSocket upgrade request: what the 101 answers with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Handshake {
    /// `Sec-WebSocket-Accept`.
    pub(super) accept: String,
    /// `Sec-WebSocket-Protocol`: the subprotocol chosen.
    pub(super) protocol: &'static str,
}

/// Reads the WebSocket upgrade headers of a request; `Err` says what is missing.
pub(super) fn handshake(headers: &HeaderMap) -> Result<Handshake, String> {
    let header = |name| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect::<Vec<&str>>()
    };
    if !header(CONNECTION)
        .iter()
        .any(|token| token.eq_ignore_ascii_case("upgrade"))
    {
        return Err("Upgrade request required (Connection: Upgrade)".to_owned());
    }
    if !header(UPGRADE)
        .iter()
        .any(|token| token.eq_ignore_ascii_case("websocket"))
    {
        return Err("Upgrade request required (Upgrade: websocket)".to_owned());
    }
    let key = headers
        .get(SEC_WEBSOCKET_KEY)
        .and_then(|key| key.to_str().ok())
        .map(str::trim)
        .filter(|key| !key.is_empty())
        .ok_or("a WebSocket upgrade needs Sec-WebSocket-Key")?;
    let offered = header(SEC_WEBSOCKET_PROTOCOL);
    let protocol = PROTOCOLS
        .into_iter()
        .find(|protocol| offered.contains(protocol))
        .ok_or_else(|| {
            format!(
                "none of the offered Sec-WebSocket-Protocol {offered:?} is supported; \
                 offer one of {PROTOCOLS:?}"
            )
        })?;
    Ok(Handshake {
        accept: accept_key(key),
        protocol,
    })
}

/// `Sec-WebSocket-Accept` for `key`: base64 of SHA-1 of the key and the RFC's GUID.
fn accept_key(key: &str) -> String {
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        format!("{key}{WEBSOCKET_GUID}").as_bytes(),
    );
    base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
}

/// An exec the API server accepted: what to run where, once the connection is upgraded.
#[derive(Debug)]
pub(super) struct ExecPlan {
    pub(super) handshake: Handshake,
    shared: Weak<Mutex<State>>,
    key: String,
    uid: String,
    container: String,
    command: Vec<String>,
    stdout: bool,
    stderr: bool,
    time_scale: f64,
    /// The pod's stop: an exec ends with its pod (or the fake).
    stopped: watch::Receiver<bool>,
}

/// Checks an exec request as the API server and kubelet do before upgrading.
pub(super) fn answer(
    state: &State,
    namespace: &str,
    name: &str,
    query: &[(String, String)],
    websocket: &Result<Handshake, String>,
) -> Result<Answer, ApiError> {
    let mut command = Vec::new();
    let (mut container, mut stdout, mut stderr) = (None, false, false);
    let flag = |value: &str| matches!(value, "true" | "1");
    for (parameter, value) in query {
        match parameter.as_str() {
            "command" => command.push(value.clone()),
            "container" if !value.is_empty() => container = Some(value.clone()),
            "stdout" => stdout = flag(value),
            "stderr" => stderr = flag(value),
            "stdin" | "tty" if flag(value) => {
                return Err(ApiError::bad_request(format!(
                    "{parameter}=true is not supported by the fake's exec"
                )));
            }
            _ => {}
        }
    }
    let key = format!("{namespace}/{name}");
    let pod = state
        .pods
        .get(&key)
        .ok_or_else(|| ApiError::not_found("pods", name))?;
    let names = container_names(pod);
    let container = match (container, names.as_slice()) {
        (Some(container), _) if names.contains(&container) => container,
        (Some(container), _) => return Err(ApiError::not_found("containers", &container)),
        (None, [only]) => only.clone(),
        (None, _) => {
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                names.join(" ")
            )));
        }
    };
    let phase = pod
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if matches!(phase, "Succeeded" | "Failed") {
        return Err(ApiError::bad_request(format!(
            "cannot exec into a container in a completed pod; current phase is {phase}"
        )));
    }
    if command.is_empty() {
        return Err(ApiError::bad_request("you must specify at least 1 command"));
    }
    if !stdout && !stderr {
        return Err(ApiError::bad_request(
            "you must specify at least 1 of stdin, stdout, stderr",
        ));
    }
    let running = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|status| {
            status["name"] == container.as_str() && status["state"]["running"].is_object()
        });
    let uid = pod
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let stopped = state
        .runtimes
        .get(&key)
        .filter(|runtime| runtime.uid == uid)
        .map(|runtime| runtime.stopped());
    let (true, Some(stopped)) = (running, stopped) else {
        return Err(ApiError::bad_request(format!(
            "container not found (\"{container}\")"
        )));
    };
    let handshake = websocket.clone().map_err(ApiError::bad_request)?;
    Ok(Answer::Exec(ExecPlan {
        handshake,
        shared: state.myself.clone(),
        key,
        uid: uid.to_owned(),
        container,
        command,
        stdout,
        stderr,
        time_scale: state.config.time_scale,
        stopped,
    }))
}

/// Runs the exec on the upgraded connection: channel frames, the status, a close frame.
pub(super) async fn serve(pending: OnUpgrade, plan: ExecPlan) {
    // The client went away before the upgrade completed: nothing to run for.
    let Ok(upgraded) = pending.await else {
        return;
    };
    let (mut reader, mut writer) = tokio::io::split(TokioIo::new(upgraded));
    // What the client sends (a close frame when its stdin ends, pings) is read and ignored.
    let drain = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut reader, &mut tokio::io::sink()).await;
    });
    let _ = exchange(&mut writer, plan).await;
    let _ = writer.shutdown().await;
    drain.abort();
}

async fn exchange(writer: &mut (impl AsyncWrite + Unpin), plan: ExecPlan) -> std::io::Result<()> {
    // As the API server does: an empty message on each open channel says it is ready.
    for (open, channel) in [(plan.stdout, STDOUT), (plan.stderr, STDERR), (true, STATUS)] {
        if open {
            writer.write_all(&frame(OPCODE_BINARY, &[channel])).await?;
        }
    }
    let (sender, mut outputs) = mpsc::unbounded_channel();
    let protocol = plan.handshake.protocol;
    let command_line = plan.command.join(" ");
    let mut running = tokio::spawn(run(plan, sender));
    while let Some((channel, bytes)) = outputs.recv().await {
        let mut payload = vec![channel];
        payload.extend_from_slice(&bytes);
        if let Err(error) = writer.write_all(&frame(OPCODE_BINARY, &payload)).await {
            running.abort();
            return Err(error);
        }
    }
    // The command ends before its sandbox (the sender) is dropped, so this is ready.
    let code = (&mut running).await.unwrap_or(1);
    let status = status(protocol, &command_line, code);
    if !status.is_empty() {
        let mut payload = vec![STATUS];
        payload.extend_from_slice(&status);
        writer.write_all(&frame(OPCODE_BINARY, &payload)).await?;
    }
    writer
        .write_all(&frame(OPCODE_CLOSE, &CLOSE_NORMAL.to_be_bytes()))
        .await?;
    writer.flush().await
}

/// What channel 3 carries at the end: a `Status` with v4; plain text (nothing on success)
/// with the original `channel.k8s.io`.
fn status(protocol: &str, command_line: &str, code: i32) -> Vec<u8> {
    let message = format!(
        "command terminated with non-zero exit code: error executing command \
         [{command_line}], exit code {code}"
    );
    match (protocol, code) {
        ("v4.channel.k8s.io", 0) => json!({"metadata": {}, "status": "Success"})
            .to_string()
            .into_bytes(),
        ("v4.channel.k8s.io", _) => json!({
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
        })
        .to_string()
        .into_bytes(),
        (_, 0) => Vec::new(),
        _ => message.into_bytes(),
    }
}

/// A server-to-client frame (never masked): FIN, `opcode`, and a 7, 16 or 64-bit length.
fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x80 | opcode];
    match payload.len() {
        short @ 0..=125 => frame.push(short as u8),
        medium @ 126..=0xffff => {
            frame.push(126);
            frame.extend_from_slice(&(medium as u16).to_be_bytes());
        }
        long => {
            frame.push(127);
            frame.extend_from_slice(&(long as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(payload);
    frame
}

/// Runs the command; its exit code. An unknown command is `sh: CMD: not found`, 127.
async fn run(mut plan: ExecPlan, outputs: mpsc::UnboundedSender<(u8, Vec<u8>)>) -> i32 {
    let program = Program::of_argv(&plan.command);
    let mut sandbox = ExecSandbox {
        container: ContainerSandbox::new(
            plan.shared,
            &plan.key,
            &plan.uid,
            &plan.container,
            plan.time_scale,
        ),
        outputs,
        stdout: plan.stdout,
        stderr: plan.stderr,
    };
    let shells = ["sh", "/bin/sh", "bash", "/bin/bash"];
    match (&program, plan.command.first()) {
        (Program::Unsupported(_), Some(first)) if !shells.contains(&first.as_str()) => {
            sandbox.error_output(&format!("sh: {first}: not found\n"));
            return 127;
        }
        _ => {}
    }
    // Nothing signals an exec'd process in the fake.
    let mut no_signals = mpsc::unbounded_channel().1;
    tokio::select! {
        code = script::run(&program, &mut sandbox, &mut no_signals) => code,
        // Killed with its container, as the kubelet's SIGKILL would.
        _ = plan.stopped.wait_for(|stopped| *stopped) => 137,
    }
}

/// The container's files and first process, with output going to the exec's channels.
struct ExecSandbox {
    container: ContainerSandbox,
    outputs: mpsc::UnboundedSender<(u8, Vec<u8>)>,
    stdout: bool,
    stderr: bool,
}

impl Sandbox for ExecSandbox {
    fn output(&mut self, text: &str) {
        if self.stdout {
            // The client may have gone: the output is then lost, as in a cluster.
            let _ = self.outputs.send((STDOUT, text.as_bytes().to_vec()));
        }
    }

    fn error_output(&mut self, text: &str) {
        if self.stderr {
            let _ = self.outputs.send((STDERR, text.as_bytes().to_vec()));
        }
    }

    fn signal_first_process(&mut self, signal: Signal) -> bool {
        self.container.signal_first_process(signal)
    }

    fn read_file(&mut self, path: &str) -> Option<String> {
        self.container.read_file(path)
    }

    fn write_file(&mut self, path: &str, text: &str, append: bool) {
        self.container.write_file(path, text, append);
    }

    fn real_duration(&self, seconds: f64) -> std::time::Duration {
        self.container.real_duration(seconds)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // A failed unwrap is a failed test.
mod tests {
    use hyper::header::HeaderValue;

    use super::*;

    #[test]
    fn accept_key_is_the_rfc_6455_example() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn handshake_prefers_v4_and_needs_every_header() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            (CONNECTION, "keep-alive, Upgrade"),
            (UPGRADE, "WebSocket"),
            (SEC_WEBSOCKET_KEY, "dGhlIHNhbXBsZSBub25jZQ=="),
            (
                SEC_WEBSOCKET_PROTOCOL,
                "v5.channel.k8s.io, channel.k8s.io, v4.channel.k8s.io",
            ),
        ] {
            headers.insert(name, HeaderValue::from_static(value));
        }
        assert_eq!(handshake(&headers).unwrap().protocol, "v4.channel.k8s.io");
        headers.insert(
            SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("channel.k8s.io"),
        );
        assert_eq!(handshake(&headers).unwrap().protocol, "channel.k8s.io");
        headers.insert(
            SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("v5.channel.k8s.io"),
        );
        assert!(handshake(&headers).is_err());
        headers.remove(SEC_WEBSOCKET_PROTOCOL);
        assert!(handshake(&headers).is_err());
        assert!(
            handshake(&HeaderMap::new())
                .unwrap_err()
                .contains("Upgrade request required")
        );
    }

    #[test]
    fn frames_use_the_shortest_length_encoding() {
        assert_eq!(frame(OPCODE_BINARY, &[1]), [0x82, 1, 1]);
        assert_eq!(
            frame(OPCODE_CLOSE, &1000u16.to_be_bytes()),
            [0x88, 2, 0x03, 0xe8]
        );
        let medium = frame(OPCODE_BINARY, &[0; 126]);
        assert_eq!(&medium[..4], [0x82, 126, 0, 126]);
        assert_eq!(medium.len(), 4 + 126);
        let long = frame(OPCODE_BINARY, &[0; 70_000]);
        assert_eq!(&long[..2], [0x82, 127]);
        assert_eq!(u64::from_be_bytes(long[2..10].try_into().unwrap()), 70_000);
    }

    #[test]
    fn status_is_a_v4_status_or_v1_text() {
        let success: Value =
            serde_json::from_slice(&status("v4.channel.k8s.io", "true", 0)).unwrap();
        assert_eq!(success, json!({"metadata": {}, "status": "Success"}));
        let failure: Value =
            serde_json::from_slice(&status("v4.channel.k8s.io", "cat /x", 1)).unwrap();
        assert_eq!(failure["reason"], "NonZeroExitCode");
        assert_eq!(
            failure["details"]["causes"][0],
            json!({"reason": "ExitCode", "message": "1"})
        );
        assert!(status("channel.k8s.io", "true", 0).is_empty());
    }
}
