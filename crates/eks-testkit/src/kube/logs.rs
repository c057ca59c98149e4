//! Container logs: what the simulated kubelet stores per container (runs of lines with
//! strictly increasing nanosecond timestamps, so a reader can resume with `sinceTime` without
//! duplicates; a run of many equal lines costs one entry), and `GET .../pods/{name}/log` with `container`, `follow`, `timestamps`,
//! `sinceTime`, `sinceSeconds`, `tailLines`, `limitBytes` and `previous`, answered as chunked
//! plain text; a followed stream sends lines as they are written and ends once the container
//! has terminated and every line is sent, unless the test asked for it to be cut. Answers are
//! rendered while they are sent, a chunk of about 128 KiB at a time, so that the fake can
//! serve a log of gigabytes faster than a client reads it, in flat memory.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hyper::body::Bytes;
use serde_json::Value;
use tokio::sync::mpsc;

use super::api::{Answer, cut_stream};
use super::kubelet::container_names;
use super::lock;
use super::state::State;
use super::wire::{ApiError, parse_rfc3339_nanos, rfc3339};

/// Lines a container wrote, as one run: `count` lines of the same `text` (without its
/// newline), the first at `at` and each next one a nanosecond later. A statement writes runs
/// of one line; `yes TEXT | head -n N` writes one run of N lines, so a log of gigabytes costs
/// the fake a few bytes and is rendered straight into large chunks when read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct LogRun {
    pub(super) at: SystemTime,
    pub(super) text: Arc<str>,
    pub(super) count: u64,
}

impl LogRun {
    /// The time of line `offset` of the run.
    fn time_of(&self, offset: u64) -> SystemTime {
        self.at + Duration::from_nanos(offset)
    }

    fn last_at(&self) -> SystemTime {
        self.time_of(self.count.saturating_sub(1))
    }

    /// The lines from `offset` on, as a run of their own.
    fn skipping(&self, offset: u64) -> LogRun {
        LogRun {
            at: self.time_of(offset),
            text: Arc::clone(&self.text),
            count: self.count - offset,
        }
    }
}

/// A line of the log: run index and line offset within the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
struct Position {
    run: usize,
    offset: u64,
}

/// The log of one container.
#[derive(Debug, Default)]
pub(super) struct ContainerLog {
    pub(super) runs: Vec<LogRun>,
    /// Output since the last newline.
    partial: String,
}

impl ContainerLog {
    /// Appends output: every completed line is stored with its time.
    pub(super) fn write(&mut self, text: &str, now: SystemTime) {
        self.partial.push_str(text);
        while let Some(end) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=end).collect();
            self.push(line.trim_end_matches('\n'), 1, now);
        }
    }

    /// Appends `count` lines of `line` (each with its newline), stored as one run.
    pub(super) fn write_repeated(&mut self, line: &str, count: u64, now: SystemTime) {
        if count == 0 {
            return;
        }
        let mut count = count;
        if !self.partial.is_empty() {
            // The first line completes the pending partial line.
            self.write(&format!("{line}\n"), now);
            count -= 1;
        }
        if count > 0 {
            self.push(line, count, now);
        }
    }

    /// Stores a last line without a newline, as the runtime does when a container exits.
    pub(super) fn flush(&mut self, now: SystemTime) {
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.push(&line, 1, now);
        }
    }

    fn push(&mut self, text: &str, count: u64, now: SystemTime) {
        // Strictly increasing, so that `sinceTime` = last seen + 1ns resumes exactly.
        let at = match self.runs.last() {
            Some(last) if last.last_at() >= now => last.last_at() + Duration::from_nanos(1),
            _ => now,
        };
        self.runs.push(LogRun {
            at,
            text: Arc::from(text),
            count,
        });
    }

    /// How many lines the log holds.
    #[cfg(test)]
    fn line_count(&self) -> u64 {
        self.runs.iter().map(|run| run.count).sum()
    }

    /// The first line stamped at or after `since`.
    fn first_since(&self, since: SystemTime) -> Position {
        let run = self.runs.partition_point(|run| run.last_at() < since);
        let offset = self.runs.get(run).map_or(0, |found| {
            since.duration_since(found.at).map_or(0, |after| {
                u64::try_from(after.as_nanos()).unwrap_or(u64::MAX)
            })
        });
        Position { run, offset }
    }

    /// The first of the last `tail` lines.
    fn tail(&self, tail: usize) -> Position {
        let mut left = tail as u64;
        for (index, run) in self.runs.iter().enumerate().rev() {
            if left <= run.count {
                return Position {
                    run: index,
                    offset: run.count - left,
                };
            }
            left -= run.count;
        }
        Position::default()
    }

    /// The lines from `from` on, as runs.
    fn runs_from(&self, from: Position) -> Vec<LogRun> {
        let Some(first) = self.runs.get(from.run) else {
            return Vec::new();
        };
        let mut runs = Vec::with_capacity(self.runs.len() - from.run);
        if from.offset < first.count {
            runs.push(first.skipping(from.offset));
        }
        runs.extend_from_slice(&self.runs[from.run + 1..]);
        runs
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
    let empty = ContainerLog::default();
    let log = runtime
        .and_then(|runtime| runtime.containers.get(&container))
        .map_or(&empty, |runtime| &runtime.log);
    let mut start = since.map_or(Position::default(), |since| log.first_since(since));
    if let Some(tail) = options.tail_lines {
        start = start.max(log.tail(tail));
    }

    let (sender, receiver) = mpsc::channel(16);
    let cut_after = match state.log_stream_cuts {
        (lines, times) if times > 0 && options.follow => {
            state.log_stream_cuts = (lines, times - 1);
            Some(lines as u64)
        }
        _ => None,
    };
    // Without `follow`, the lines there now are the answer: taken (cheaply: runs share their
    // text) before the lock is let go.
    let snapshot = (!options.follow).then(|| log.runs_from(start));
    let stream = LogStream {
        shared: state.myself.clone(),
        key,
        uid: runtime.map(|runtime| runtime.uid.clone()),
        container,
        timestamps: options.timestamps,
        limit_bytes: options.limit_bytes,
        snapshot,
        next: start,
        cut_after,
        sent_bytes: 0,
        sent_lines: 0,
        changes: state.changes.subscribe(),
    };
    // The server always answers inside a runtime; the stream is rendered as it is sent, a
    // chunk at a time, so a log of gigabytes never sits in memory.
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(stream.stream(sender));
    }
    Ok(Answer::Text(receiver))
}

/// Cuts `text` to at most `limit` bytes, at a character boundary.
fn truncate(text: &mut Vec<u8>, limit: usize) {
    if limit < text.len() {
        let mut end = limit;
        // A UTF-8 continuation byte is 0b10xxxxxx.
        while end > 0 && text[end] & 0xC0 == 0x80 {
            end -= 1;
        }
        text.truncate(end);
    }
}

/// About how many bytes one chunk of a log answer carries (a chunk ends with a whole line).
const CHUNK_BYTES: usize = 128 * 1024;

/// Renders the lines of `run` from `offset` on, as the log endpoint sends them
/// (`TIMESTAMP TEXT\n`, or `TEXT\n` without timestamps), appending to `out` until it holds
/// [`CHUNK_BYTES`] or `max_lines` lines are written; returns how many it wrote.
fn render(out: &mut Vec<u8>, run: &LogRun, offset: u64, max_lines: u64, timestamps: bool) -> u64 {
    let mut line = LineTemplate::new(run, offset, timestamps);
    let mut written = 0;
    while offset + written < run.count && written < max_lines && out.len() < CHUNK_BYTES {
        line.write(out);
        line.advance();
        written += 1;
    }
    written
}

/// One line of a run as it is sent, with all nine digits of its timestamp's fraction. The
/// lines of a run are a nanosecond apart, so the next line is this one with the digits
/// counted up in place: most lines cost one copy, which keeps the fake well ahead of a
/// client reading hundreds of megabytes a second (even in a debug build).
struct LineTemplate<'a> {
    bytes: Vec<u8>,
    text: &'a str,
    timestamps: bool,
    second: u64,
    /// Where the `.` before the fraction is.
    dot: usize,
}

impl<'a> LineTemplate<'a> {
    fn new(run: &'a LogRun, offset: u64, timestamps: bool) -> Self {
        let since = run
            .time_of(offset)
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let mut line = LineTemplate {
            bytes: Vec::with_capacity(run.text.len() + 40),
            text: &run.text,
            timestamps,
            second: since.as_secs(),
            dot: 0,
        };
        line.build(since.subsec_nanos());
        line
    }

    fn build(&mut self, nanos: u32) {
        self.bytes.clear();
        if self.timestamps {
            let whole = rfc3339(UNIX_EPOCH + Duration::from_secs(self.second));
            self.bytes
                .extend_from_slice(whole.trim_end_matches('Z').as_bytes());
            self.dot = self.bytes.len();
            self.bytes
                .extend_from_slice(format!(".{nanos:09}Z ").as_bytes());
        }
        self.bytes.extend_from_slice(self.text.as_bytes());
        self.bytes.push(b'\n');
    }

    fn write(&self, out: &mut Vec<u8>) {
        if !self.timestamps || self.bytes[self.dot + 9] != b'0' {
            out.extend_from_slice(&self.bytes);
            return;
        }
        // Go's RFC3339Nano drops the fraction's trailing zeros, and the fraction when it is 0.
        let digits = &self.bytes[self.dot + 1..self.dot + 10];
        let kept = 9 - digits
            .iter()
            .rev()
            .take_while(|digit| **digit == b'0')
            .count();
        let end = if kept == 0 {
            self.dot
        } else {
            self.dot + 1 + kept
        };
        out.extend_from_slice(&self.bytes[..end]);
        out.extend_from_slice(&self.bytes[self.dot + 10..]);
    }

    /// Moves to the next nanosecond.
    fn advance(&mut self) {
        if !self.timestamps {
            return;
        }
        for index in (self.dot + 1..self.dot + 10).rev() {
            if self.bytes[index] == b'9' {
                self.bytes[index] = b'0';
            } else {
                self.bytes[index] += 1;
                return;
            }
        }
        self.second += 1;
        self.build(0);
    }
}

/// A log answer in progress: the lines there when it was asked for, or with `follow=true`
/// every line as it is written until the container has terminated.
struct LogStream {
    shared: std::sync::Weak<std::sync::Mutex<State>>,
    key: String,
    uid: Option<String>,
    container: String,
    timestamps: bool,
    limit_bytes: Option<usize>,
    /// Without `follow`: the whole answer, as runs.
    snapshot: Option<Vec<LogRun>>,
    /// With `follow`: the next line to send.
    next: Position,
    cut_after: Option<u64>,
    sent_bytes: usize,
    sent_lines: u64,
    changes: tokio::sync::watch::Receiver<u64>,
}

impl LogStream {
    async fn stream(mut self, sender: mpsc::Sender<Result<Bytes, std::io::Error>>) {
        loop {
            self.changes.borrow_and_update();
            let (runs, finished) = match self.snapshot.take() {
                Some(runs) => (runs, true),
                None => match self.read() {
                    Some(read) => read,
                    None => return,
                },
            };
            // Where the next line is: run index and offset in it.
            let (mut run, mut offset) = (0, 0);
            while run < runs.len() {
                if self.cut_after == Some(self.sent_lines) {
                    cut_stream(&sender, "log stream cut by FakeKube").await;
                    return;
                }
                let mut room = self
                    .cut_after
                    .map_or(u64::MAX, |cut| cut.saturating_sub(self.sent_lines));
                let mut chunk = Vec::with_capacity(CHUNK_BYTES + 4096);
                while run < runs.len() && room > 0 && chunk.len() < CHUNK_BYTES {
                    let written = render(&mut chunk, &runs[run], offset, room, self.timestamps);
                    room -= written;
                    self.sent_lines += written;
                    offset += written;
                    if offset == runs[run].count {
                        (run, offset) = (run + 1, 0);
                    }
                }
                if let Some(limit) = self.limit_bytes {
                    truncate(&mut chunk, limit - self.sent_bytes);
                }
                self.sent_bytes += chunk.len();
                if sender.send(Ok(Bytes::from(chunk))).await.is_err() {
                    return;
                }
                if self.limit_bytes == Some(self.sent_bytes) {
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
    fn read(&mut self) -> Option<(Vec<LogRun>, bool)> {
        let shared = self.shared.upgrade()?;
        let state = lock(&shared);
        let runtime = state
            .runtimes
            .get(&self.key)
            .filter(|runtime| Some(&runtime.uid) == self.uid.as_ref());
        let runs = match runtime.and_then(|runtime| runtime.containers.get(&self.container)) {
            Some(container) => {
                let runs = container.log.runs_from(self.next);
                // Runs are never changed once written: the next line is the next run's first.
                self.next = Position {
                    run: container.log.runs.len().max(self.next.run),
                    offset: 0,
                };
                runs
            }
            None => Vec::new(),
        };
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
        Some((runs, terminated || runtime.is_none()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // A failed unwrap is a failed test.
mod tests {
    use super::*;
    use crate::kube::wire::rfc3339_nanos;

    fn texts(log: &ContainerLog) -> Vec<(&str, u64)> {
        log.runs
            .iter()
            .map(|run| (run.text.as_ref(), run.count))
            .collect()
    }

    #[test]
    fn lines_get_strictly_increasing_times_and_partial_lines_wait_for_a_newline() {
        let now = SystemTime::now();
        let mut log = ContainerLog::default();
        log.write("a\nb", now);
        log.write("c\nd\n", now);
        log.write("tail", now);
        log.flush(now);
        assert_eq!(texts(&log), [("a", 1), ("bc", 1), ("d", 1), ("tail", 1)]);
        assert!(log.runs.windows(2).all(|pair| pair[0].at < pair[1].at));
    }

    #[test]
    fn repeated_lines_are_one_run_that_completes_a_partial_line_and_keeps_times_increasing() {
        let now = SystemTime::now();
        let mut log = ContainerLog::default();
        log.write("start\nhalf ", now);
        log.write_repeated("y", 1_000_000, now);
        log.write_repeated("never", 0, now);
        log.write("end\n", now);
        assert_eq!(
            texts(&log),
            [("start", 1), ("half y", 1), ("y", 999_999), ("end", 1)]
        );
        assert_eq!(log.line_count(), 1_000_002);
        // Every line of a run is a nanosecond after the one before; the next run comes after.
        assert_eq!(log.runs[2].at, log.runs[1].at + Duration::from_nanos(1));
        assert_eq!(
            log.runs[3].at,
            log.runs[2].last_at() + Duration::from_nanos(1)
        );
    }

    #[test]
    fn since_and_tail_find_lines_inside_runs() {
        let now = SystemTime::now();
        let mut log = ContainerLog::default();
        log.write("one\n", now);
        log.write_repeated("y", 10, now);
        log.write("last\n", now);
        let at = |run: usize, offset: u64| log.runs[run].time_of(offset);
        assert_eq!(log.first_since(now), Position { run: 0, offset: 0 });
        assert_eq!(log.first_since(at(1, 4)), Position { run: 1, offset: 4 });
        assert_eq!(log.first_since(at(2, 0)), Position { run: 2, offset: 0 });
        assert_eq!(
            log.first_since(at(2, 0) + Duration::from_nanos(1)),
            Position { run: 3, offset: 0 }
        );
        assert_eq!(log.tail(1), Position { run: 2, offset: 0 });
        assert_eq!(log.tail(3), Position { run: 1, offset: 8 });
        assert_eq!(log.tail(100), Position::default());
        let runs = log.runs_from(Position { run: 1, offset: 8 });
        assert_eq!(runs.len(), 2);
        assert_eq!((runs[0].count, runs[0].at), (2, at(1, 8)));
    }

    #[test]
    fn stamps_are_written_as_go_writes_rfc3339_nano_across_digits_and_seconds() {
        let run = LogRun {
            at: UNIX_EPOCH + Duration::from_secs(1_714_564_799) + Duration::from_nanos(999_999_990),
            text: Arc::from("text"),
            count: 200_000_000,
        };
        let mut chunk = Vec::new();
        assert_eq!(render(&mut chunk, &run, 0, 30, true), 30);
        let text = String::from_utf8(chunk).unwrap();
        let expected: String = (0..30)
            .map(|n| format!("{} text\n", rfc3339_nanos(run.time_of(n))))
            .collect();
        assert_eq!(text, expected);
        assert!(text.contains("\n2024-05-01T12:00:00Z text\n2024-05-01T12:00:00.000000001Z"));
        // Trailing zeros go, as Go writes them.
        let mut chunk = Vec::new();
        render(&mut chunk, &run, 10 + 120_000_000, 1, true);
        assert_eq!(chunk, b"2024-05-01T12:00:00.12Z text\n");
        let mut chunk = Vec::new();
        render(&mut chunk, &run, 5, 2, false);
        assert_eq!(chunk, b"text\ntext\n");
    }

    #[test]
    fn a_chunk_ends_with_a_whole_line_near_the_chunk_size_or_at_the_line_limit() {
        let run = LogRun {
            at: UNIX_EPOCH + Duration::from_secs(1_714_564_800),
            text: Arc::from("0123456789abcdef"),
            count: 100_000,
        };
        let mut chunk = Vec::new();
        let written = render(&mut chunk, &run, 10, u64::MAX, true);
        assert!(chunk.len() >= CHUNK_BYTES && chunk.ends_with(b"\n"));
        let text = String::from_utf8(chunk).unwrap();
        assert_eq!(text.lines().count() as u64, written);
        assert!(text.starts_with("2024-05-01T12:00:00.00000001Z 0123456789abcdef\n"));
        assert_eq!(render(&mut Vec::new(), &run, 99_998, 5, true), 2);
        assert_eq!(render(&mut Vec::new(), &run, 0, 3, true), 3);
    }

    /// A container that runs `yes | head -n N` (one run in the log) followed to its end:
    /// every line once, in order, stamped a nanosecond apart.
    #[tokio::test]
    async fn a_generated_log_is_streamed_whole_in_chunks() {
        let state = Arc::new_cyclic(|myself| {
            std::sync::Mutex::new(State::with_config(
                "127.0.0.1:1".to_owned(),
                super::super::FakeKubeConfig { time_scale: 0.001 },
                myself.clone(),
            ))
        });
        let body = serde_json::json!({
            "metadata": {"name": "big"},
            "spec": {"containers": [{"name": "base", "image": "busybox",
                "command": ["sh", "-c", "echo first; yes 'the same line' | head -n 200000; echo last"]}]},
        });
        let mut changes = {
            let mut state = lock(&state);
            state
                .create_pod("default", body.to_string().as_bytes())
                .unwrap();
            state.changes.subscribe()
        };
        loop {
            let phase = lock(&state).pods["default/big"]["status"]["phase"].clone();
            if phase == "Succeeded" {
                break;
            }
            changes.changed().await.unwrap();
        }
        let query =
            [("follow", "true"), ("timestamps", "true")].map(|(k, v)| (k.to_owned(), v.to_owned()));
        let Answer::Text(mut chunks) = answer(&mut lock(&state), "default", "big", &query).unwrap()
        else {
            panic!("a log answers text");
        };
        let mut text = String::new();
        let mut count = 0;
        while let Some(chunk) = chunks.recv().await {
            text.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
            count += 1;
        }
        let lines: Vec<(SystemTime, &str)> = text
            .lines()
            .map(|line| {
                let (stamp, text) = line.split_once(' ').unwrap();
                (parse_rfc3339_nanos(stamp).unwrap(), text)
            })
            .collect();
        assert_eq!(lines.len(), 200_002);
        assert!(count > 1 && count < 100, "{count} chunks");
        assert_eq!(lines[0].1, "first");
        assert!(
            lines[1..200_001]
                .iter()
                .all(|(_, text)| *text == "the same line")
        );
        assert_eq!(lines[200_001].1, "last");
        assert!(lines.windows(2).all(|pair| pair[0].0 < pair[1].0));
        // Without follow, `tailLines` and `limitBytes` apply inside the run too.
        let query =
            [("tailLines", "2"), ("limitBytes", "16")].map(|(k, v)| (k.to_owned(), v.to_owned()));
        let Answer::Text(mut chunks) = answer(&mut lock(&state), "default", "big", &query).unwrap()
        else {
            panic!("a log answers text");
        };
        let mut text = Vec::new();
        while let Some(chunk) = chunks.recv().await {
            text.extend_from_slice(&chunk.unwrap());
        }
        assert_eq!(String::from_utf8(text).unwrap(), "the same line\nla");
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
        let mut text = "héllo".as_bytes().to_vec();
        truncate(&mut text, 2);
        assert_eq!(text, b"h");
    }
}
