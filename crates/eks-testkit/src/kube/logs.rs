//! Container logs: what the simulated kubelet stores per container (lines with strictly
//! increasing nanosecond timestamps, so a reader can resume with `sinceTime` without
//! duplicates), and `GET .../pods/{name}/log` with `container`, `follow`, `timestamps`,
//! `sinceTime`, `sinceSeconds`, `tailLines`, `limitBytes` and `previous`, answered as chunked
//! plain text; a followed stream sends lines as they are written and ends once the container
//! has terminated and every line is sent, unless the test asked for it to be cut.

use std::time::{Duration, SystemTime};

use hyper::body::Bytes;
use serde_json::Value;
use tokio::sync::mpsc;

use super::api::{Answer, cut_stream};
use super::kubelet::container_names;
use super::lock;
use super::state::State;
use super::wire::{ApiError, parse_rfc3339_nanos, rfc3339_nanos};

/// One line a container wrote (without its newline).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct LogLine {
    pub(super) at: SystemTime,
    pub(super) text: String,
}

/// The log of one container.
#[derive(Debug, Default)]
pub(super) struct ContainerLog {
    pub(super) lines: Vec<LogLine>,
    /// Output since the last newline.
    partial: String,
}

impl ContainerLog {
    /// Appends output: every completed line is stored with its time.
    pub(super) fn write(&mut self, text: &str, now: SystemTime) {
        self.partial.push_str(text);
        while let Some(end) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=end).collect();
            self.push(line.trim_end_matches('\n').to_owned(), now);
        }
    }

    /// Stores a last line without a newline, as the runtime does when a container exits.
    pub(super) fn flush(&mut self, now: SystemTime) {
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.push(line, now);
        }
    }

    fn push(&mut self, text: String, now: SystemTime) {
        // Strictly increasing, so that `sinceTime` = last seen + 1ns resumes exactly.
        let at = match self.lines.last() {
            Some(last) if last.at >= now => last.at + Duration::from_nanos(1),
            _ => now,
        };
        self.lines.push(LogLine { at, text });
    }
}

/// The query of a log request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct LogOptions {
    container: Option<String>,
    follow: bool,
    timestamps: bool,
    since: Option<SystemTime>,
    since_seconds: Option<u64>,
    tail_lines: Option<usize>,
    limit_bytes: Option<usize>,
    previous: bool,
}

impl LogOptions {
    fn parse(query: &[(String, String)]) -> Result<Self, ApiError> {
        let mut options = Self::default();
        let flag = |name: &str, value: &str| match value {
            "true" | "1" => Ok(true),
            "false" | "0" | "" => Ok(false),
            _ => Err(ApiError::bad_request(format!(
                "{name}: invalid value {value:?}: must be true or false"
            ))),
        };
        let number = |name: &str, value: &str| {
            value.parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!(
                    "{name}: invalid value {value:?}: must be a non-negative integer"
                ))
            })
        };
        for (name, value) in query {
            match name.as_str() {
                "container" if !value.is_empty() => options.container = Some(value.clone()),
                "follow" => options.follow = flag(name, value)?,
                "timestamps" => options.timestamps = flag(name, value)?,
                "previous" => options.previous = flag(name, value)?,
                "sinceTime" => {
                    options.since = Some(parse_rfc3339_nanos(value).ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "sinceTime: invalid value {value:?}: must be RFC 3339"
                        ))
                    })?);
                }
                "sinceSeconds" => options.since_seconds = Some(number(name, value)?),
                "tailLines" => options.tail_lines = Some(number(name, value)? as usize),
                "limitBytes" => options.limit_bytes = Some(number(name, value)? as usize),
                _ => {}
            }
        }
        if options.since.is_some() && options.since_seconds.is_some() {
            return Err(ApiError::bad_request(
                "at most one of sinceTime or sinceSeconds may be specified",
            ));
        }
        Ok(options)
    }

    fn render(&self, line: &LogLine) -> String {
        if self.timestamps {
            format!("{} {}\n", rfc3339_nanos(line.at), line.text)
        } else {
            format!("{}\n", line.text)
        }
    }
}

/// `GET /api/v1/namespaces/{namespace}/pods/{name}/log`.
pub(super) fn answer(
    state: &mut State,
    namespace: &str,
    name: &str,
    query: &[(String, String)],
) -> Result<Answer, ApiError> {
    let options = LogOptions::parse(query)?;
    let key = format!("{namespace}/{name}");
    let pod = state
        .pods
        .get(&key)
        .ok_or_else(|| ApiError::not_found("pods", name))?;
    let names = container_names(pod);
    let container = match (&options.container, names.as_slice()) {
        (Some(container), _) if names.contains(container) => container.clone(),
        (Some(container), _) => {
            return Err(ApiError::bad_request(format!(
                "container {container} is not valid for pod {name}"
            )));
        }
        (None, [only]) => only.clone(),
        (None, _) => {
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                names.join(" ")
            )));
        }
    };
    if options.previous {
        return Err(ApiError::bad_request(format!(
            "previous terminated container \"{container}\" in pod \"{name}\" not found"
        )));
    }
    let status = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .and_then(|statuses| {
            statuses
                .iter()
                .find(|status| status["name"] == container.as_str())
        });
    let waiting = match status {
        None if pod.pointer("/spec/nodeName").is_none() && state.runtimes.contains_key(&key) => {
            Some("ContainerCreating".to_owned())
        }
        Some(status) => status
            .pointer("/state/waiting/reason")
            .and_then(Value::as_str)
            .map(str::to_owned),
        None => None,
    };
    if let Some(reason) = waiting {
        return Err(ApiError::bad_request(format!(
            "container \"{container}\" in pod \"{name}\" is waiting to start: {reason}"
        )));
    }
    let since = options.since.or_else(|| {
        options
            .since_seconds
            .map(|seconds| SystemTime::now() - Duration::from_secs(seconds))
    });
    let uid = pod.pointer("/metadata/uid").and_then(Value::as_str);
    let runtime = state
        .runtimes
        .get(&key)
        .filter(|runtime| Some(runtime.uid.as_str()) == uid);
    let lines: &[LogLine] = runtime
        .and_then(|runtime| runtime.containers.get(&container))
        .map_or(&[], |runtime| &runtime.log.lines);
    let mut start = since.map_or(0, |since| lines.partition_point(|line| line.at < since));
    if let Some(tail) = options.tail_lines {
        start = start.max(lines.len().saturating_sub(tail));
    }

    let (sender, receiver) = mpsc::channel(64);
    if !options.follow {
        let text: String = lines[start..]
            .iter()
            .map(|line| options.render(line))
            .collect();
        let text = truncate(text, options.limit_bytes);
        // The channel is new and has room: this cannot fail.
        let _ = sender.try_send(Ok(Bytes::from(text)));
        return Ok(Answer::Text(receiver));
    }
    let cut_after = match state.log_stream_cuts {
        (lines, times) if times > 0 => {
            state.log_stream_cuts = (lines, times - 1);
            Some(lines)
        }
        _ => None,
    };
    let follower = Follower {
        shared: state.myself.clone(),
        key,
        uid: runtime.map(|runtime| runtime.uid.clone()),
        container,
        options,
        next: start,
        cut_after,
        sent_bytes: 0,
        sent_lines: 0,
        changes: state.changes.subscribe(),
    };
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(follower.stream(sender));
    }
    Ok(Answer::Text(receiver))
}

fn truncate(mut text: String, limit: Option<usize>) -> String {
    if let Some(limit) = limit.filter(|limit| *limit < text.len()) {
        let mut end = limit;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// A `follow=true` stream in progress.
struct Follower {
    shared: std::sync::Weak<std::sync::Mutex<State>>,
    key: String,
    uid: Option<String>,
    container: String,
    options: LogOptions,
    /// Index of the next line to send.
    next: usize,
    cut_after: Option<usize>,
    sent_bytes: usize,
    sent_lines: usize,
    changes: tokio::sync::watch::Receiver<u64>,
}

impl Follower {
    async fn stream(mut self, sender: mpsc::Sender<Result<Bytes, std::io::Error>>) {
        loop {
            self.changes.borrow_and_update();
            let Some((lines, finished)) = self.read() else {
                return;
            };
            for line in lines {
                if self.cut_after == Some(self.sent_lines) {
                    cut_stream(&sender, "log stream cut by FakeKube").await;
                    return;
                }
                let mut text = self.options.render(&line);
                if let Some(limit) = self.options.limit_bytes {
                    text = truncate(text, Some(limit - self.sent_bytes));
                }
                self.sent_bytes += text.len();
                self.sent_lines += 1;
                if sender.send(Ok(Bytes::from(text))).await.is_err() {
                    return;
                }
                if self.options.limit_bytes == Some(self.sent_bytes) {
                    return;
                }
            }
            if finished {
                return;
            }
            if self.changes.changed().await.is_err() {
                return;
            }
        }
    }

    /// New lines, and whether the container has terminated (or the pod is gone) so that no
    /// more will come; `None` once the fake has stopped.
    fn read(&mut self) -> Option<(Vec<LogLine>, bool)> {
        let shared = self.shared.upgrade()?;
        let state = lock(&shared);
        let runtime = state
            .runtimes
            .get(&self.key)
            .filter(|runtime| Some(&runtime.uid) == self.uid.as_ref());
        let lines: Vec<LogLine> = runtime
            .and_then(|runtime| runtime.containers.get(&self.container))
            .map(|container| {
                container
                    .log
                    .lines
                    .get(self.next..)
                    .unwrap_or_default()
                    .to_vec()
            })
            .unwrap_or_default();
        self.next += lines.len();
        let terminated = state.pods.get(&self.key).is_none_or(|pod| {
            pod.pointer("/status/containerStatuses")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|status| {
                    status["name"] == self.container.as_str()
                        && status.pointer("/state/terminated").is_some()
                })
        });
        Some((lines, terminated || runtime.is_none()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // A failed unwrap is a failed test.
mod tests {
    use super::*;

    #[test]
    fn lines_get_strictly_increasing_times_and_partial_lines_wait_for_a_newline() {
        let now = SystemTime::now();
        let mut log = ContainerLog::default();
        log.write("a\nb", now);
        log.write("c\nd\n", now);
        log.write("tail", now);
        log.flush(now);
        let texts: Vec<&str> = log.lines.iter().map(|line| line.text.as_str()).collect();
        assert_eq!(texts, ["a", "bc", "d", "tail"]);
        assert!(log.lines.windows(2).all(|pair| pair[0].at < pair[1].at));
    }

    #[test]
    fn options_are_read_and_checked() {
        let query = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let options = LogOptions::parse(&query(&[
            ("follow", "true"),
            ("tailLines", "2"),
            ("sinceTime", "2024-05-01T12:00:00.5Z"),
        ]))
        .unwrap();
        assert!(options.follow);
        assert_eq!(options.tail_lines, Some(2));
        assert!(LogOptions::parse(&query(&[("follow", "yes")])).is_err());
        assert!(
            LogOptions::parse(&query(&[
                ("sinceTime", "2024-05-01T12:00:00Z"),
                ("sinceSeconds", "5")
            ]))
            .is_err()
        );
        assert_eq!(truncate("héllo".to_owned(), Some(2)), "h");
    }
}
