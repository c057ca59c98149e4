//! The one waiter behind every wait: poll a resource's state at the user's interval, log one
//! line per poll, stop at the target, fail fast on a terminal state, and stop at a signal.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::interrupt::Interrupt;

/// The user's control over a wait: Airflow's `waiter_delay` and `waiter_max_attempts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitOptions {
    pub delay: Duration,
    pub max_attempts: u32,
}

impl WaitOptions {
    /// The longest a wait with these options can take (ignoring request time).
    pub fn budget(&self) -> Duration {
        self.delay * self.max_attempts
    }
}

/// The state a resource is in, as one poll saw it. `NONEXISTENT` when describe says not found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub state: String,
    /// Why it is in that state, when EKS says (health issues).
    pub reason: Option<String>,
}

pub const NONEXISTENT: &str = "NONEXISTENT";

/// What to wait for.
#[derive(Debug, Clone)]
pub struct WaitGoal<'a> {
    /// `cluster/NAME`, `nodegroup/CLUSTER/NAME`, ... for messages.
    pub resource: &'a str,
    pub target: &'a str,
    /// States that end the wait with [`Error::ResourceFailed`].
    pub fail_on: &'a [&'a str],
}

/// The end of a successful wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waited {
    pub state: String,
    pub attempts: u32,
    pub elapsed: Duration,
}

/// Poll `describe` until the goal's target state. Transient API errors (throttling, 5xx,
/// network) cost an attempt and are logged, not fatal: the next poll usually succeeds.
pub async fn wait_for<F, Fut>(
    goal: &WaitGoal<'_>,
    options: WaitOptions,
    interrupt: &Interrupt,
    mut describe: F,
) -> Result<Waited, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Observed, Error>>,
{
    let start = Instant::now();
    let during = format!("waiting for {} to be {}", goal.resource, goal.target);
    let mut last_state = String::from("UNKNOWN");
    for attempt in 1..=options.max_attempts {
        let polled_at = Instant::now();
        match interrupt.run(describe(), &during).await? {
            Ok(observed) => {
                // One line per poll: resource, state, attempt n/N, elapsed.
                tracing::info!(
                    "{} is {} (poll {attempt}/{}, {}s elapsed)",
                    goal.resource,
                    observed.state,
                    options.max_attempts,
                    start.elapsed().as_secs(),
                );
                if observed.state == goal.target {
                    return Ok(Waited {
                        state: observed.state,
                        attempts: attempt,
                        elapsed: start.elapsed(),
                    });
                }
                if goal.fail_on.contains(&observed.state.as_str()) {
                    return Err(Error::ResourceFailed {
                        resource: goal.resource.to_owned(),
                        state: observed.state,
                        reason: observed.reason,
                    });
                }
                last_state = observed.state;
            }
            Err(e) if e.is_transient() => {
                tracing::warn!(
                    "poll {attempt}/{} of {} failed, will poll again: {e}",
                    options.max_attempts,
                    goal.resource
                );
            }
            Err(e) => return Err(e),
        }
        if attempt < options.max_attempts {
            // Interval measured from the start of this poll: never faster than asked.
            let next = options.delay.saturating_sub(polled_at.elapsed());
            interrupt.sleep(next, &during).await?;
        }
    }
    Err(Error::Timeout {
        resource: goal.resource.to_owned(),
        target: goal.target.to_owned(),
        last_state,
        attempts: options.max_attempts,
        elapsed: start.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::error::Signal;

    fn scripted(states: &[&str]) -> impl FnMut() -> std::future::Ready<Result<Observed, Error>> {
        let states: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(
            states.iter().rev().map(|s| s.to_string()).collect(),
        ));
        move || {
            let state = states
                .lock()
                .expect("lock")
                .pop()
                .unwrap_or_else(|| "CREATING".into());
            std::future::ready(Ok(Observed {
                state,
                reason: None,
            }))
        }
    }

    const GOAL: WaitGoal<'static> = WaitGoal {
        resource: "cluster/demo",
        target: "ACTIVE",
        fail_on: &["FAILED", NONEXISTENT],
    };

    fn opts(attempts: u32) -> WaitOptions {
        WaitOptions {
            delay: Duration::from_secs(30),
            max_attempts: attempts,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn reaches_target_and_counts_polls() {
        let start = tokio::time::Instant::now();
        let waited = wait_for(
            &GOAL,
            opts(5),
            &Interrupt::never(),
            scripted(&["CREATING", "CREATING", "ACTIVE"]),
        )
        .await
        .expect("active");
        assert_eq!(waited.attempts, 3);
        // Two sleeps of the full delay between three polls: never faster than asked.
        assert_eq!(start.elapsed(), Duration::from_secs(60));
    }

    #[tokio::test(start_paused = true)]
    async fn fails_fast_on_terminal_state() {
        let err = wait_for(
            &GOAL,
            opts(5),
            &Interrupt::never(),
            scripted(&["CREATING", "FAILED"]),
        )
        .await
        .expect_err("failed");
        assert!(
            matches!(err, Error::ResourceFailed { ref state, .. } if state == "FAILED"),
            "{err}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn times_out_after_max_attempts() {
        let err = wait_for(&GOAL, opts(3), &Interrupt::never(), scripted(&[]))
            .await
            .expect_err("timeout");
        match err {
            Error::Timeout {
                attempts,
                last_state,
                ..
            } => {
                assert_eq!(attempts, 3);
                assert_eq!(last_state, "CREATING");
            }
            other => panic!("expected timeout, got {other}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn transient_errors_cost_a_poll_only() {
        let mut calls = 0;
        let describe = move || {
            calls += 1;
            let out = if calls == 1 {
                Err(Error::Api {
                    operation: "DescribeCluster",
                    code: Some("ThrottlingException".into()),
                    message: "Rate exceeded".into(),
                    transient: true,
                    source: "throttled".into(),
                })
            } else {
                Ok(Observed {
                    state: "ACTIVE".into(),
                    reason: None,
                })
            };
            std::future::ready(out)
        };
        let waited = wait_for(&GOAL, opts(3), &Interrupt::never(), describe)
            .await
            .expect("active");
        assert_eq!(waited.attempts, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn signal_stops_the_wait() {
        let (tx, interrupt) = Interrupt::channel();
        let waiter =
            tokio::spawn(
                async move { wait_for(&GOAL, opts(100), &interrupt, scripted(&[])).await },
            );
        tokio::time::sleep(Duration::from_secs(45)).await;
        tx.raise(Signal::Sigint);
        let err = waiter.await.expect("join").expect_err("interrupted");
        assert_eq!(err.signal(), Some(Signal::Sigint));
    }
}
