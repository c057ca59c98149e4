//! The criterion micro-benchmarks of eks-core's hot paths (`crates/eks-core/benches`), run
//! with `cargo bench` and read back from criterion's own estimates under `target/criterion`.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde_json::Value;

/// One benchmark's result.
#[derive(Debug, Clone)]
pub struct Estimate {
    /// `group/function`, as criterion names it.
    pub id: String,
    /// Median time per iteration, in nanoseconds, and its 95% confidence interval.
    pub median_ns: f64,
    pub low_ns: f64,
    pub high_ns: f64,
    /// Bytes or elements per iteration, when the benchmark declares it.
    pub throughput: Option<(String, f64)>,
}

pub fn run(root: &Path, quick: bool) -> Result<Vec<Estimate>, String> {
    let started = SystemTime::now();
    let mut args = vec![
        "bench",
        "--locked",
        "-p",
        "eks-core",
        "--bench",
        "hot_paths",
    ];
    if quick {
        // Proves the benchmarks run, on the dev build `cargo test` already made: an optimised
        // build of eks-core's dependencies for the host would add minutes to `cargo xtask ci`.
        args.extend(["--profile", "dev", "--", "--quick"]);
    } else {
        args.push("--");
    }
    crate::cmd(root, "cargo", &args)?;
    let dir = crate::proc::target_dir(root).join("criterion");
    let mut found = Vec::new();
    collect(&dir, started, &mut found)?;
    if found.is_empty() {
        return Err(format!(
            "cargo bench ran but left no estimates under {}",
            dir.display()
        ));
    }
    found.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(found)
}

/// Every `new/benchmark.json` written since `since`, with its `new/estimates.json`.
fn collect(dir: &Path, since: SystemTime, found: &mut Vec<Estimate>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        if path.file_name().is_some_and(|name| name == "new") {
            let benchmark = path.join("benchmark.json");
            let fresh = std::fs::metadata(&benchmark)
                .and_then(|m| m.modified())
                .is_ok_and(|modified| modified >= since);
            if fresh {
                found.push(read(&path)?);
            }
        } else {
            collect(&path, since, found)?;
        }
    }
    Ok(())
}

fn read(new: &Path) -> Result<Estimate, String> {
    let json = |name: &str| -> Result<Value, String> {
        let path: PathBuf = new.join(name);
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    };
    let benchmark = json("benchmark.json")?;
    let estimates = json("estimates.json")?;
    let number = |value: &Value| value.as_f64().unwrap_or(f64::NAN);
    let median = &estimates["median"];
    let throughput = benchmark["throughput"].as_object().and_then(|kinds| {
        kinds
            .iter()
            .next()
            .map(|(kind, amount)| (kind.clone(), number(amount)))
    });
    Ok(Estimate {
        id: benchmark["full_id"]
            .as_str()
            .unwrap_or("unnamed")
            .to_owned(),
        median_ns: number(&median["point_estimate"]),
        low_ns: number(&median["confidence_interval"]["lower_bound"]),
        high_ns: number(&median["confidence_interval"]["upper_bound"]),
        throughput,
    })
}
