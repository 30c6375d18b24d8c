//! How fast readers may call GetRecords, and how long they wait after a failure.
//!
//! A shard allows 5 GetRecords calls per second shared by every polling consumer. Readers in one
//! process share that budget through [`CallBudget`]: each call reserves the next free slot of its
//! shard, so two iterators on one shard together stay under the limit instead of each using it.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use rand::Rng;

/// Slots per (endpoint, stream, shard), process-wide.
static NEXT_SLOT: Mutex<Option<HashMap<String, Instant>>> = Mutex::new(None);

/// Forget slots older than this when the table grows, so it stays small for long-lived processes.
const STALE_AFTER: Duration = Duration::from_secs(60);
const PRUNE_ABOVE: usize = 4096;

/// One shard's share of the GetRecords budget.
#[derive(Clone, Debug)]
pub struct CallBudget {
    key: String,
    interval: Duration,
}

impl CallBudget {
    /// `calls_per_second` is this process's budget for the shard (the service allows 5 in all).
    pub fn new(endpoint: &str, stream: &str, shard_id: &str, calls_per_second: f64) -> Self {
        CallBudget {
            key: format!("{endpoint}|{stream}|{shard_id}"),
            interval: Duration::from_secs_f64(1.0 / calls_per_second),
        }
    }

    /// Reserve the next call slot of this shard and return when it starts.
    pub fn reserve(&self) -> Instant {
        let now = Instant::now();
        let mut guard = NEXT_SLOT.lock().unwrap_or_else(PoisonError::into_inner);
        let slots = guard.get_or_insert_with(HashMap::new);
        if slots.len() > PRUNE_ABOVE {
            slots.retain(|_, next| now.saturating_duration_since(*next) < STALE_AFTER);
        }
        let next = slots.entry(self.key.clone()).or_insert(now);
        let start = (*next).max(now);
        *next = start + self.interval;
        start
    }

    /// Wait for the next slot.
    pub async fn wait_turn(&self) {
        let start = self.reserve();
        if start > Instant::now() {
            tokio::time::sleep_until(start.into()).await;
        }
    }

    /// Push this shard's next slot at least `delay` into the future (after an empty answer, so an
    /// idle shard is polled less often, or after throttling).
    pub fn hold_off(&self, delay: Duration) {
        let until = Instant::now() + delay;
        let mut guard = NEXT_SLOT.lock().unwrap_or_else(PoisonError::into_inner);
        let next = guard.get_or_insert_with(HashMap::new).entry(self.key.clone()).or_insert(until);
        *next = (*next).max(until);
    }
}

/// Exponential backoff with full jitter, for retries that must never give up on their own.
#[derive(Clone, Debug)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    failures: u32,
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration) -> Self {
        Backoff { base, cap, failures: 0 }
    }

    /// The delay before the next attempt: uniform in [ceiling / 2, ceiling], where the ceiling
    /// doubles per consecutive failure up to `cap`. Half is kept fixed so a storm still slows down.
    pub fn next_delay(&mut self) -> Duration {
        let exponent = self.failures.min(16);
        self.failures = self.failures.saturating_add(1);
        let ceiling = self.base.saturating_mul(1u32 << exponent).min(self.cap);
        let half = ceiling / 2;
        half + half.mul_f64(rand::rng().random::<f64>())
    }

    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_of_one_shard_are_spaced_by_the_interval() {
        let budget = CallBudget::new("e", "s", "shard-slots", 5.0);
        let first = budget.reserve();
        let second = budget.reserve();
        let third = budget.reserve();
        assert_eq!(second - first, Duration::from_millis(200));
        assert_eq!(third - second, Duration::from_millis(200));
    }

    #[test]
    fn two_budgets_for_the_same_shard_share_slots() {
        let a = CallBudget::new("e", "s", "shard-shared", 10.0);
        let b = CallBudget::new("e", "s", "shard-shared", 10.0);
        let first = a.reserve();
        let second = b.reserve();
        assert_eq!(second - first, Duration::from_millis(100));
    }

    #[test]
    fn hold_off_delays_the_next_slot() {
        let budget = CallBudget::new("e", "s", "shard-hold", 1000.0);
        budget.hold_off(Duration::from_millis(500));
        assert!(budget.reserve() >= Instant::now() + Duration::from_millis(400));
    }

    #[test]
    fn backoff_grows_to_its_cap_and_resets() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let delays: Vec<Duration> = (0..8).map(|_| backoff.next_delay()).collect();
        assert!(delays[0] >= Duration::from_millis(50) && delays[0] <= Duration::from_millis(100));
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(1)));
        assert!(delays[7] >= Duration::from_millis(500));
        backoff.reset();
        assert!(backoff.next_delay() <= Duration::from_millis(100));
    }
}
