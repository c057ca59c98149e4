//! Cooperative cancellation: the binary turns SIGINT/SIGTERM into an [`Interrupt`], and
//! every wait in the library sleeps through it so that a signal stops the wait at once.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;

use crate::error::{Error, Signal};

/// Raises an interruption; held by whoever listens for signals.
#[derive(Debug, Clone)]
pub struct InterruptSender(watch::Sender<Option<Signal>>);

impl InterruptSender {
    pub fn raise(&self, signal: Signal) {
        // The first signal wins; a second one is the caller's business (e.g. exit at once).
        self.0.send_if_modified(|current| {
            if current.is_none() {
                *current = Some(signal);
                true
            } else {
                false
            }
        });
    }
}

/// Observes an interruption; cheap to clone into every task.
#[derive(Debug, Clone)]
pub struct Interrupt(watch::Receiver<Option<Signal>>);

impl Interrupt {
    pub fn channel() -> (InterruptSender, Interrupt) {
        let (tx, rx) = watch::channel(None);
        (InterruptSender(tx), Interrupt(rx))
    }

    /// An interrupt that never fires, for tests and library callers without signals.
    pub fn never() -> Interrupt {
        let (tx, rx) = watch::channel(None);
        // Keep the sender alive forever so `changed()` never resolves with an error.
        std::mem::forget(tx);
        Interrupt(rx)
    }

    pub fn raised(&self) -> Option<Signal> {
        *self.0.borrow()
    }

    /// `Err(Interrupted)` if a signal has arrived.
    pub fn check(&self, during: &str) -> Result<(), Error> {
        match self.raised() {
            Some(signal) => Err(Error::Interrupted {
                signal,
                during: during.to_owned(),
            }),
            None => Ok(()),
        }
    }

    /// Resolves when a signal arrives.
    pub async fn signalled(&self) -> Signal {
        let mut rx = self.0.clone();
        loop {
            if let Some(signal) = *rx.borrow_and_update() {
                return signal;
            }
            if rx.changed().await.is_err() {
                // Sender gone without a signal: nothing will ever interrupt us.
                std::future::pending::<()>().await;
            }
        }
    }

    /// Sleep, unless a signal arrives first.
    pub async fn sleep(&self, duration: Duration, during: &str) -> Result<(), Error> {
        self.run(tokio::time::sleep(duration), during).await
    }

    /// Run `fut` to completion unless a signal arrives first.
    pub async fn run<F: Future>(&self, fut: F, during: &str) -> Result<F::Output, Error> {
        self.check(during)?;
        tokio::select! {
            biased;
            signal = self.signalled() => Err(Error::Interrupted { signal, during: during.to_owned() }),
            out = fut => Ok(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn sleep_stops_at_the_signal() {
        let (tx, interrupt) = Interrupt::channel();
        let sleeper = tokio::spawn({
            let interrupt = interrupt.clone();
            async move { interrupt.sleep(Duration::from_secs(3600), "waiting").await }
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        tx.raise(Signal::Sigterm);
        let err = sleeper.await.expect("task").expect_err("interrupted");
        assert_eq!(err.signal(), Some(Signal::Sigterm));
        // The first signal wins.
        tx.raise(Signal::Sigint);
        assert_eq!(interrupt.raised(), Some(Signal::Sigterm));
    }

    #[tokio::test(start_paused = true)]
    async fn never_lets_the_future_finish() {
        let out = Interrupt::never()
            .run(async { 7 }, "computing")
            .await
            .expect("not interrupted");
        assert_eq!(out, 7);
    }
}
