//! Following a container's log so that every line arrives exactly once, in order, even when
//! the stream drops. KubernetesPodOperator resumes a dropped stream from the last timestamp
//! rounded to the second, which repeats lines (and can lose the last ones written before the
//! container exits). Here every line is read with its RFC3339Nano timestamp; a resumed stream
//! asks for `sinceTime` = the second of the last timestamp seen (the API server passes
//! `sinceTime` to the kubelet at whole seconds, and returns lines at or after it) and drops
//! what was already delivered: lines older than the last timestamp, and as many lines stamped
//! exactly with it as were already passed on. When the container has terminated, one last read
//! without `follow` catches lines written after the stream dropped.

use std::time::Duration;

use futures::{AsyncBufRead, AsyncBufReadExt};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::LogParams;

use crate::error::Error;
use crate::interrupt::Interrupt;

/// Where in the log the reader is: the newest timestamp delivered and how many lines carried
/// exactly that timestamp.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogCursor {
    last: Option<Timestamp>,
    delivered_at_last: usize,
}

/// What a line means to the reader.
#[derive(Debug, PartialEq, Eq)]
pub enum LineVerdict<'a> {
    /// New: pass on this text.
    Deliver(&'a str),
    /// Already delivered before the stream was resumed.
    Duplicate,
}

impl LogCursor {
    /// Where a resumed stream should start.
    pub fn since(&self) -> Option<Timestamp> {
        self.last
    }

    /// Start reading a new stream from `since()`: the lines stamped exactly `last` that were
    /// delivered will be sent again, and skipped.
    pub fn resume(&self) -> Resumed {
        Resumed {
            cursor: self.clone(),
            to_skip_at_last: self.delivered_at_last,
            second: None,
        }
    }
}

/// A cursor positioned on a (re)opened stream.
#[derive(Debug, Clone)]
pub struct Resumed {
    cursor: LogCursor,
    to_skip_at_last: usize,
    /// The `YYYY-MM-DDTHH:MM:SS` of the last UTC stamp parsed in full, and its second: the
    /// next stamps of the same second only need their fraction read. Parsing every stamp
    /// with jiff was the largest cost per line (`cargo xtask bench`, log_lines benchmarks).
    second: Option<([u8; 19], i64)>,
}

impl Resumed {
    /// Judge one raw line (`<timestamp> <text>`), moving the cursor past delivered lines.
    pub fn judge<'a>(&mut self, raw: &'a str) -> LineVerdict<'a> {
        let (stamp, text) = raw.split_once(' ').unwrap_or((raw, ""));
        let Some(at) = self.stamp_time(stamp) else {
            // No timestamp (it should not happen with timestamps=true): deliver, keep position.
            return LineVerdict::Deliver(raw);
        };
        match self.cursor.last {
            Some(last) if at < last => return LineVerdict::Duplicate,
            Some(last) if at == last => {
                if self.to_skip_at_last > 0 {
                    self.to_skip_at_last -= 1;
                    return LineVerdict::Duplicate;
                }
                self.cursor.delivered_at_last += 1;
            }
            _ => {
                self.cursor.last = Some(at);
                self.cursor.delivered_at_last = 1;
                self.to_skip_at_last = 0;
            }
        }
        LineVerdict::Deliver(text)
    }

    pub fn cursor(&self) -> &LogCursor {
        &self.cursor
    }

    /// The time of an RFC 3339 stamp: from the cached second plus the fraction when the stamp
    /// is a UTC one of that second, else parsed in full (and cached when it is UTC).
    fn stamp_time(&mut self, stamp: &str) -> Option<Timestamp> {
        let bytes = stamp.as_bytes();
        if let Some((prefix, second)) = &self.second
            && bytes.len() > 19
            && bytes[..19] == prefix[..]
            && let Some(nanos) = utc_fraction_nanos(&bytes[19..])
        {
            return Timestamp::new(*second, nanos).ok();
        }
        let at = stamp.parse::<Timestamp>().ok()?;
        if bytes.len() > 19 && utc_fraction_nanos(&bytes[19..]).is_some() {
            let mut prefix = [0u8; 19];
            prefix.copy_from_slice(&bytes[..19]);
            self.second = Some((prefix, at.as_second()));
        }
        Some(at)
    }
}

/// What follows the seconds of a UTC stamp: `Z` is 0 ns, `.5Z` 500000000 ns (1 to 9 digits);
/// `None` for anything else (an offset, a malformed fraction).
fn utc_fraction_nanos(rest: &[u8]) -> Option<i32> {
    let digits = match rest.strip_suffix(b"Z")? {
        [] => return Some(0),
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => digits,
        _ => return None,
    };
    let mut nanos: i32 = 0;
    for digit in digits {
        if !digit.is_ascii_digit() {
            return None;
        }
        nanos = nanos * 10 + i32::from(digit - b'0');
    }
    Some(nanos * 10i32.pow(9 - digits.len() as u32))
}

/// How a follow went.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Followed {
    pub lines: u64,
    pub bytes: u64,
    /// Times the stream dropped and was resumed.
    pub resumed: u32,
    pub duplicates_dropped: u64,
}

/// Where followed lines go. `flush` comes after each chunk read from the network, so a sink
/// can buffer its writes (one write per chunk, not per line) without holding lines back.
pub trait LineSink {
    fn line(&mut self, text: &str);
    fn flush(&mut self);
}

/// A stream that ends sooner than this without a line is a failure, not a quiet container.
const QUICK_FAILURE: Duration = Duration::from_secs(5);

/// Streams failing at once more often than this in a row end the follow.
const MAX_EMPTY_RESUMES: u32 = 20;

/// Follow `container` of `pod` until it terminates, passing each new line's text to `sink`.
/// `terminated` says whether the container has finished (asked when a stream ends).
pub async fn follow<T, TFut>(
    pods: &Api<Pod>,
    pod: &str,
    container: &str,
    interrupt: &Interrupt,
    mut terminated: T,
    sink: &mut (dyn LineSink + Send),
) -> Result<Followed, Error>
where
    T: FnMut() -> TFut,
    TFut: std::future::Future<Output = Result<bool, Error>>,
{
    let mut cursor = LogCursor::default();
    let mut stats = Followed::default();
    let mut empty_resumes = 0;
    let mut last_problem: Option<String> = None;
    let during = format!("following the log of {pod}/{container}");
    loop {
        let finished = terminated().await?;
        let mut params = LogParams {
            container: Some(container.to_owned()),
            follow: !finished,
            timestamps: true,
            ..LogParams::default()
        };
        // The API server carries sinceTime to the kubelet at whole seconds (and kube-rs rounds
        // to the nearest one, which could skip lines): ask from the second before, and let the
        // cursor drop what was already delivered.
        params.since_time = cursor
            .since()
            .and_then(|t| Timestamp::from_second(t.as_second()).ok());
        let before = stats.lines;
        let opened = std::time::Instant::now();
        let mut resumed = cursor.resume();
        match interrupt
            .run(pods.log_stream(pod, &params), &during)
            .await?
        {
            Ok(stream) => {
                let mut reader = Box::pin(stream);
                // A line split across chunks; dropped if the stream breaks before its end,
                // since the resumed stream sends it whole.
                let mut partial: Vec<u8> = Vec::new();
                let mut deliver =
                    |raw: &[u8], stats: &mut Followed, sink: &mut (dyn LineSink + Send)| {
                        let raw = String::from_utf8_lossy(raw);
                        match resumed.judge(&raw) {
                            LineVerdict::Deliver(text) => {
                                stats.lines += 1;
                                stats.bytes += text.len() as u64 + 1;
                                sink.line(text);
                            }
                            LineVerdict::Duplicate => stats.duplicates_dropped += 1,
                        }
                    };
                loop {
                    let chunk = interrupt.run(reader.fill_buf(), &during).await?;
                    let buf = match chunk {
                        Ok(buf) => buf,
                        Err(e) => {
                            tracing::debug!("log stream of {pod}/{container} broke: {e}");
                            break;
                        }
                    };
                    if buf.is_empty() {
                        if finished && !partial.is_empty() {
                            deliver(&partial, &mut stats, sink);
                        }
                        break;
                    }
                    let len = buf.len();
                    let mut start = 0;
                    for end in newline_positions(buf) {
                        if partial.is_empty() {
                            deliver(&buf[start..end], &mut stats, sink);
                        } else {
                            partial.extend_from_slice(&buf[start..end]);
                            deliver(&partial, &mut stats, sink);
                            partial.clear();
                        }
                        start = end + 1;
                    }
                    partial.extend_from_slice(&buf[start..]);
                    reader.as_mut().consume(len);
                    sink.flush();
                }
                sink.flush();
            }
            Err(e) => {
                tracing::debug!("log stream of {pod}/{container} could not open: {e}");
                last_problem = Some(e.to_string());
            }
        }
        cursor = resumed.cursor().clone();
        if finished {
            return Ok(stats);
        }
        // A quiet container's stream is closed by read timeouts now and then: only a stream
        // that failed at once, with nothing read, counts towards giving up.
        if stats.lines == before && opened.elapsed() < QUICK_FAILURE {
            empty_resumes += 1;
            if empty_resumes > MAX_EMPTY_RESUMES {
                return Err(Error::Internal(format!(
                    "the log stream of {pod}/{container} kept failing without a line{}; giving up following it",
                    last_problem
                        .as_deref()
                        .map(|p| format!(" (last: {p})"))
                        .unwrap_or_default()
                )));
            }
            interrupt
                .sleep(
                    Duration::from_millis(200 * u64::from(empty_resumes.min(10))),
                    &during,
                )
                .await?;
        } else {
            empty_resumes = 0;
        }
        stats.resumed += 1;
        tracing::debug!(
            "resuming the log of {pod}/{container} from {:?}",
            cursor.since()
        );
    }
}

/// Positions of `\n` in `buf`, in order, eight bytes at a time: a log line is often a
/// hundred bytes, so most words hold no newline and are passed over with one test. (A byte
/// loop cost as much per byte as judging the lines: `cargo xtask bench`, log_lines.)
pub fn newline_positions(buf: &[u8]) -> impl Iterator<Item = usize> + '_ {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    const NEWLINES: u64 = u64::from_ne_bytes([b'\n'; 8]);
    let mut start = 0;
    std::iter::from_fn(move || {
        while let Some(word) = buf.get(start..start + 8) {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(word);
            let x = u64::from_ne_bytes(bytes) ^ NEWLINES;
            // Non-zero exactly when some byte of `x` is zero, i.e. some byte is a newline.
            if x.wrapping_sub(ONES) & !x & HIGHS != 0 {
                break;
            }
            start += 8;
        }
        let at = start + buf.get(start..)?.iter().position(|b| *b == b'\n')?;
        start = at + 1;
        Some(at)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(ts: &str, text: &str) -> String {
        format!("{ts} {text}")
    }

    #[test]
    fn a_resumed_stream_drops_exactly_what_was_delivered() {
        let first = [
            line("2026-12-04T10:00:00.1Z", "one"),
            line("2026-12-04T10:00:00.2Z", "two"),
            line("2026-12-04T10:00:00.2Z", "two-bis"),
        ];
        let mut resumed = LogCursor::default().resume();
        let delivered: Vec<_> = first.iter().map(|l| resumed.judge(l)).collect();
        assert!(
            delivered
                .iter()
                .all(|v| matches!(v, LineVerdict::Deliver(_)))
        );
        // The server resends from sinceTime=.2 inclusive: both .2 lines, then new ones.
        let mut again = resumed.cursor().resume();
        assert_eq!(
            again.judge(&line("2026-12-04T10:00:00.2Z", "two")),
            LineVerdict::Duplicate
        );
        assert_eq!(
            again.judge(&line("2026-12-04T10:00:00.2Z", "two-bis")),
            LineVerdict::Duplicate
        );
        assert_eq!(
            again.judge(&line("2026-12-04T10:00:00.2Z", "two-ter")),
            LineVerdict::Deliver("two-ter")
        );
        assert_eq!(
            again.judge(&line("2026-12-04T10:00:00.3Z", "three")),
            LineVerdict::Deliver("three")
        );
        assert_eq!(
            again.judge(&line("2026-12-04T10:00:00.05Z", "older")),
            LineVerdict::Duplicate
        );
    }

    #[test]
    fn trimmed_nanosecond_stamps_compare_as_times_not_strings() {
        // RFC3339Nano trims trailing zeros: ".1Z" and ".12Z" must order by time.
        let mut resumed = LogCursor::default().resume();
        assert_eq!(
            resumed.judge(&line("2026-12-04T10:00:00.12Z", "a")),
            LineVerdict::Deliver("a")
        );
        let mut again = resumed.cursor().resume();
        assert_eq!(
            again.judge(&line("2026-12-04T10:00:00.1Z", "older")),
            LineVerdict::Duplicate
        );
        assert_eq!(
            again.judge(&line("2026-12-04T10:00:01Z", "b")),
            LineVerdict::Deliver("b")
        );
    }

    #[test]
    fn stamps_of_one_second_read_from_the_cache_equal_full_parses() {
        let stamps = [
            "2026-12-04T10:00:00.1Z",
            "2026-12-04T10:00:00.000000001Z",
            "2026-12-04T10:00:00.12Z",
            "2026-12-04T10:00:00Z",
            "2026-12-04T10:00:00.999999999Z",
            "2026-12-04T10:00:01Z",
            "2026-12-04T10:00:01.5Z",
            // An offset is never read from the cache of the UTC second with the same digits.
            "2026-12-04T10:00:01.5+01:00",
            "2026-12-04T10:00:01.25Z",
        ];
        let mut resumed = LogCursor::default().resume();
        for stamp in stamps {
            let expected: Timestamp = stamp.parse().expect("a valid stamp");
            assert_eq!(resumed.stamp_time(stamp), Some(expected), "{stamp}");
        }
        assert_eq!(resumed.stamp_time("2026-12-04T10:00:01.Z"), None);
        assert_eq!(resumed.stamp_time("2026-12-04T10:00:01.1234567890Z"), None);
        assert_eq!(resumed.stamp_time("2026-12-04T10:00:01.x1Z"), None);
        assert_eq!(utc_fraction_nanos(b".000000123Z"), Some(123));
        assert_eq!(utc_fraction_nanos(b"+00:00"), None);
    }

    #[test]
    fn newlines_are_found_wherever_they_fall_in_a_word() {
        for text in [
            "",
            "\n",
            "no newline at all, longer than one word",
            "a\nb\n\n0123456789abcdef\nlast line without one",
            "\n\n\n\n\n\n\n\n\n\n",
            "seven..\neight...\n",
        ] {
            let expected: Vec<usize> = text.match_indices('\n').map(|(i, _)| i).collect();
            assert_eq!(
                newline_positions(text.as_bytes()).collect::<Vec<_>>(),
                expected,
                "{text:?}"
            );
        }
        // Bytes that differ from a newline in one bit are not newlines.
        let near: Vec<u8> = (0..=255u8).filter(|b| *b != b'\n').collect();
        assert_eq!(newline_positions(&near).count(), 0);
    }

    #[test]
    fn text_keeps_its_spaces() {
        let mut resumed = LogCursor::default().resume();
        assert_eq!(
            resumed.judge("2026-12-04T10:00:00Z  indented text "),
            LineVerdict::Deliver(" indented text ")
        );
        assert_eq!(
            resumed.judge("2026-12-04T10:00:01Z"),
            LineVerdict::Deliver("")
        );
    }
}
