//! One process, measured as the kernel accounts for it: wall time from spawn to reaping, and
//! from `wait4`'s `rusage` the peak resident set (`ru_maxrss`: the largest single process
//! among the child and the descendants it reaped) and the CPU time (user + system) of the child
//! and its reaped descendants. Plus the order statistics the report quotes.
//!
//! The child is started and reaped by a fresh, small helper process (`xtask __measure`), not
//! by the bench process itself: Linux records the resident set of the memory a process had
//! before `exec` in its `ru_maxrss`, and a child spawned by a big process (the bench, serving
//! the fakes, with CLONE_VM as posix_spawn does) would report the bench's size instead of its
//! own. The helper's own size is the floor of what can be measured; the report states it.

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// What one measured process did.
#[derive(Debug, Clone)]
pub struct Sample {
    pub command: String,
    /// When the process was spawned, and when the bench saw it end.
    pub started: Instant,
    pub ended: Instant,
    pub wall: Duration,
    /// Peak resident set size in bytes.
    pub max_rss: u64,
    pub user: Duration,
    pub sys: Duration,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: Drained,
}

impl Sample {
    pub fn cpu(&self) -> Duration {
        self.user + self.sys
    }

    /// Fails unless the process exited 0, naming it and showing the end of its stderr.
    pub fn ok(self) -> Result<Sample, String> {
        if self.status.success() {
            Ok(self)
        } else {
            Err(format!(
                "`{}` failed ({})\nstdout: {}\nstderr (end):\n{}",
                self.command,
                self.status,
                self.stdout.trim(),
                String::from_utf8_lossy(&self.stderr.tail).trim_end()
            ))
        }
    }

    /// The last stdout line as JSON (our binaries' result line).
    pub fn json(&self) -> Result<serde_json::Value, String> {
        let last = self.stdout.lines().last().unwrap_or_default();
        serde_json::from_str(last).map_err(|e| {
            format!(
                "`{}`: stdout's last line is not JSON ({e}): {last:?}",
                self.command
            )
        })
    }

    /// A short line for the console: wall, peak RSS, CPU.
    pub fn summary(&self) -> String {
        format!(
            "{:.3}s, {:.1} MB peak, {:.3}s CPU",
            self.wall.as_secs_f64(),
            mb(self.max_rss),
            self.cpu().as_secs_f64()
        )
    }
}

/// What was read from a child's stderr: drained as fast as it comes, in 1 MiB reads, counting
/// bytes and noting when two markers were first seen (for log throughput).
#[derive(Debug, Clone, Default)]
pub struct Drained {
    pub bytes: u64,
    /// The last 16 KiB, for error messages.
    pub tail: Vec<u8>,
    /// When `start` was first seen.
    pub start_seen: Option<Instant>,
    /// When `end` was first seen.
    pub end_seen: Option<Instant>,
}

/// Markers to time in a stderr stream: `start` is searched in every read until found; `end`
/// only in the last 4 KiB of each read (it is the end of the log, so at the end of a write),
/// which keeps the drain cheap at gigabytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Markers {
    pub start: Option<&'static [u8]>,
    pub end: Option<&'static [u8]>,
}

const TAIL: usize = 16 * 1024;

fn drain(mut from: impl Read, markers: Markers) -> Drained {
    let mut drained = Drained::default();
    let mut buf = vec![0u8; 1 << 20];
    // The end of the previous read, so a marker split across two reads is still found.
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let now = Instant::now();
        let chunk = &buf[..n];
        drained.bytes += n as u64;
        let window = |len: usize| -> Vec<u8> {
            let from = n.saturating_sub(len);
            let mut joined = carry.clone();
            joined.extend_from_slice(&chunk[from..]);
            joined
        };
        if drained.start_seen.is_none()
            && let Some(start) = markers.start
            && contains(&window(n), start)
        {
            drained.start_seen = Some(now);
        }
        if drained.end_seen.is_none()
            && let Some(end) = markers.end
            && contains(&window(4096), end)
        {
            drained.end_seen = Some(now);
        }
        carry = chunk[n.saturating_sub(64)..].to_vec();
        drained
            .tail
            .extend_from_slice(&chunk[n.saturating_sub(TAIL)..]);
        if drained.tail.len() > TAIL {
            drained.tail.drain(..drained.tail.len() - TAIL);
        }
    }
    drained
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// Runs `command` to its end, stdin closed, stdout captured, stderr drained (see [`Drained`]),
/// and measures it. Prints the command first, and its figures after. The command's
/// environment is exactly the variables set on it (as after `env_clear`).
pub fn run(command: &Command, markers: Markers) -> Result<Sample, String> {
    let shown = crate::venv::show(command);
    print!("$ {shown}");
    let sample = spawn(command, markers)?.finish()?;
    println!("  -> {} ({})", sample.summary(), sample.status);
    Ok(sample)
}

/// A process started by [`spawn`], not yet reaped.
pub struct Running {
    command: String,
    helper: std::process::Child,
    report: tempfile_path::ReportFile,
    started: Instant,
    stdout: std::thread::JoinHandle<String>,
    stderr: std::thread::JoinHandle<Drained>,
}

/// Starts `command` under the measuring helper (stdin closed, stdout captured, stderr
/// drained) without printing it.
pub fn spawn(command: &Command, markers: Markers) -> Result<Running, String> {
    let shown = crate::venv::show(command);
    // This very executable, even if cargo has since rebuilt the file it was started from.
    let helper_exe = Path::new("/proc/self/exe");
    let report = tempfile_path::ReportFile::new()?;
    let mut helper = Command::new(helper_exe);
    helper
        .arg(HELPER)
        .arg(report.path())
        .arg(command.get_program())
        .args(command.get_args())
        .env_clear();
    for (key, value) in command.get_envs() {
        if let Some(value) = value {
            helper.env(key, value);
        }
    }
    let started = Instant::now();
    let mut child = helper
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            format!("cannot start the measuring helper (xtask {HELPER}) for `{shown}`: {e}")
        })?;
    let mut out = child.stdout.take().ok_or("no stdout pipe")?;
    let err = child.stderr.take().ok_or("no stderr pipe")?;
    let stdout = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = out.read_to_string(&mut text);
        text
    });
    let stderr = std::thread::spawn(move || drain(err, markers));
    Ok(Running {
        command: shown,
        helper: child,
        report,
        started,
        stdout,
        stderr,
    })
}

impl Running {
    pub fn finish(mut self) -> Result<Sample, String> {
        let helper_status = self
            .helper
            .wait()
            .map_err(|e| format!("waiting for `{}`: {e}", self.command))?;
        let ended = Instant::now();
        let stdout = self.stdout.join().unwrap_or_default();
        let stderr = self.stderr.join().unwrap_or_default();
        let report = std::fs::read_to_string(self.report.path()).unwrap_or_default();
        let fields: Vec<u64> = report
            .split_whitespace()
            .filter_map(|field| field.parse().ok())
            .collect();
        let [raw_status, max_rss_kib, user_us, sys_us, wall_ns] = fields[..] else {
            return Err(format!(
                "`{}` could not be measured ({helper_status}): {}",
                self.command,
                String::from_utf8_lossy(&stderr.tail).trim_end()
            ));
        };
        Ok(Sample {
            command: self.command,
            started: self.started,
            ended,
            wall: Duration::from_nanos(wall_ns),
            max_rss: max_rss_kib * 1024,
            user: Duration::from_micros(user_us),
            sys: Duration::from_micros(sys_us),
            status: ExitStatus::from_raw(i32::try_from(raw_status).unwrap_or(i32::MAX)),
            stdout,
            stderr,
        })
    }
}

/// The hidden xtask subcommand of the measuring helper.
pub const HELPER: &str = "__measure";

/// `xtask __measure REPORT PROGRAM ARGS...`: runs PROGRAM (with this process's environment
/// and standard streams), reaps it with `wait4`, writes `status maxrss_kib user_us sys_us
/// wall_ns` to REPORT, and exits as PROGRAM did.
pub fn helper(args: &[String]) -> std::process::ExitCode {
    let [report, program, rest @ ..] = args else {
        eprintln!("xtask {HELPER}: usage: xtask {HELPER} REPORT PROGRAM [ARGS...]");
        return std::process::ExitCode::from(2);
    };
    let mut command = Command::new(program);
    command.args(rest);
    force_fork(&mut command);
    let started = Instant::now();
    let child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            eprintln!("xtask {HELPER}: cannot run {program}: {e}");
            return std::process::ExitCode::from(127);
        }
    };
    let (status, usage) = match wait4(child.id()) {
        Ok(reaped) => reaped,
        Err(e) => {
            eprintln!("xtask {HELPER}: wait4 on {program}: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    let wall = started.elapsed();
    let line = format!(
        "{status} {} {} {} {}\n",
        usage.max_rss_kib,
        usage.user.as_micros(),
        usage.sys.as_micros(),
        wall.as_nanos()
    );
    if let Err(e) = std::fs::write(report, line) {
        eprintln!("xtask {HELPER}: {report}: {e}");
        return std::process::ExitCode::from(1);
    }
    let status = ExitStatus::from_raw(status);
    let code = status
        .code()
        .or_else(|| status.signal().map(|signal| 128 + signal))
        .unwrap_or(1);
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// A report file under the system temporary directory, removed when dropped.
mod tempfile_path {
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicU64, Ordering};

    static NEXT: AtomicU64 = AtomicU64::new(0);

    pub struct ReportFile(PathBuf);

    impl ReportFile {
        pub fn new() -> Result<ReportFile, String> {
            let dir = std::env::temp_dir().join(format!("xtask-bench-{}", std::process::id()));
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            Ok(ReportFile(dir.join(format!(
                "{}.txt",
                NEXT.fetch_add(1, Ordering::Relaxed)
            ))))
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for ReportFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

/// The part of `struct rusage` the benchmarks use.
#[derive(Debug, Clone, Copy)]
struct Usage {
    max_rss_kib: u64,
    user: Duration,
    sys: Duration,
}

/// Makes `command` start with a real `fork` instead of `posix_spawn`'s CLONE_VM. A forked
/// child's memory before `exec` holds only the parent's anonymous pages (file-backed text is
/// not copied), so the `ru_maxrss` it carries past `exec` is the helper's small heap, not the
/// helper's whole resident set (which a CLONE_VM child shares): measured, /bin/true shows
/// about 1 MB instead of 7.5 MB.
#[allow(unsafe_code)] // See xtask/Cargo.toml's lints.
fn force_fork(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the hook does nothing, so it is trivially async-signal-safe; its mere presence
    // makes std fork and exec instead of calling posix_spawn.
    unsafe {
        command.pre_exec(|| Ok(()));
    }
}

/// Reaps `pid` with `wait4(2)`, returning its raw wait status and resource usage.
#[allow(unsafe_code)] // The one FFI call of xtask; see xtask/Cargo.toml's lints.
fn wait4(pid: u32) -> std::io::Result<(i32, Usage)> {
    let pid = libc::pid_t::try_from(pid).map_err(std::io::Error::other)?;
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is plain old data (integers and timevals); all-zero is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers are to live, writable locals of the right types.
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if reaped == pid {
            break;
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
    let time = |tv: libc::timeval| {
        Duration::from_secs(tv.tv_sec.max(0) as u64)
            + Duration::from_micros(tv.tv_usec.max(0) as u64)
    };
    Ok((
        status,
        Usage {
            max_rss_kib: usage.ru_maxrss.max(0) as u64,
            user: time(usage.ru_utime),
            sys: time(usage.ru_stime),
        },
    ))
}

/// CPU time (user + system) this process (xtask, which serves the fakes) has used so far.
pub fn own_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command (which may hold spaces) start after the last ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // utime and stime are fields 14 and 15 of the whole line, in clock ticks (USER_HZ, 100).
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|i| fields.get(*i).and_then(|f| f.parse::<u64>().ok()))
        .sum();
    Duration::from_millis(ticks * 10)
}

/// Decimal megabytes.
pub fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// Order statistics of a set of measurements.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    pub n: usize,
    pub median: f64,
    pub q1: f64,
    pub q3: f64,
    pub min: f64,
    pub max: f64,
}

impl Stats {
    /// Median, quartiles (linear interpolation between order statistics) and range.
    pub fn of(values: &[f64]) -> Stats {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let quantile = |q: f64| -> f64 {
            if sorted.is_empty() {
                return f64::NAN;
            }
            let position = q * (sorted.len() - 1) as f64;
            let (low, high) = (position.floor() as usize, position.ceil() as usize);
            sorted[low] + (sorted[high] - sorted[low]) * (position - low as f64)
        };
        Stats {
            n: sorted.len(),
            median: quantile(0.5),
            q1: quantile(0.25),
            q3: quantile(0.75),
            min: sorted.first().copied().unwrap_or(f64::NAN),
            max: sorted.last().copied().unwrap_or(f64::NAN),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quartiles_interpolate_between_order_statistics() {
        let stats = Stats::of(&[4.0, 1.0, 3.0, 2.0, 5.0]);
        assert_eq!((stats.median, stats.q1, stats.q3), (3.0, 2.0, 4.0));
        assert_eq!((stats.min, stats.max, stats.n), (1.0, 5.0, 5));
        let even = Stats::of(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!((even.median, even.q1, even.q3), (2.5, 1.75, 3.25));
    }

    #[test]
    fn the_helper_reports_the_exit_and_memory_of_its_child() {
        let mut report = std::env::temp_dir();
        report.push(format!("xtask-measure-test-{}.txt", std::process::id()));
        let args: Vec<String> = [report.to_str().unwrap_or_default(), "sh", "-c", "exit 3"]
            .map(str::to_owned)
            .to_vec();
        let _ = helper(&args);
        let written = std::fs::read_to_string(&report).unwrap_or_default();
        let _ = std::fs::remove_file(&report);
        let fields: Vec<u64> = written
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        assert_eq!(fields.len(), 5, "{written:?}");
        assert_eq!(ExitStatus::from_raw(fields[0] as i32).code(), Some(3));
        assert!(fields[1] > 0, "a peak RSS");
    }

    #[test]
    fn markers_are_found_even_across_reads() {
        let text = b"noise\n[base] first\nmore\n[base] end-of-log\nafter\n";
        let drained = drain(
            &text[..],
            Markers {
                start: Some(b"[base] "),
                end: Some(b"end-of-log"),
            },
        );
        assert!(drained.start_seen.is_some() && drained.end_seen.is_some());
        assert_eq!(drained.bytes, text.len() as u64);
    }
}
