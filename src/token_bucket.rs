//! Per-shard pacing: a shard takes 1 MiB/s and 1,000 records/s of writes; a producer that stays
//! under that is never throttled, and one that goes over only gets its records back to retry.
//!
//! A classic token bucket: `rate` tokens per second up to `capacity`. A cost larger than the
//! capacity (an aggregate bigger than a second's allowance) is let through once the bucket is full
//! and drives it negative, so it is paid back before anything else passes.

use std::time::{Duration, Instant};

/// A shard's write allowance (service limits).
pub const SHARD_BYTES_PER_SEC: f64 = 1024.0 * 1024.0;
pub const SHARD_RECORDS_PER_SEC: f64 = 1000.0;

#[derive(Clone, Debug)]
pub struct TokenBucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    updated: Instant,
}

impl TokenBucket {
    /// A full bucket refilling `rate` tokens per second, holding at most one second's worth.
    pub fn new(rate: f64, now: Instant) -> Self {
        TokenBucket { rate, capacity: rate, tokens: rate, updated: now }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        self.updated = now;
    }

    /// How long until `cost` may be taken (zero if now).
    pub fn wait_time(&mut self, cost: f64, now: Instant) -> Duration {
        self.refill(now);
        let needed = cost.min(self.capacity);
        if self.tokens >= needed {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((needed - self.tokens) / self.rate)
        }
    }

    /// Take `cost` tokens; call only when [`TokenBucket::wait_time`] said zero.
    pub fn take(&mut self, cost: f64, now: Instant) {
        self.refill(now);
        self.tokens -= cost;
    }
}

/// A shard's two buckets: records per second and bytes per second, scaled by `ratio`.
#[derive(Clone, Debug)]
pub struct ShardPacer {
    records: TokenBucket,
    bytes: TokenBucket,
}

impl ShardPacer {
    pub fn new(ratio: f64, now: Instant) -> Self {
        ShardPacer {
            records: TokenBucket::new(SHARD_RECORDS_PER_SEC * ratio, now),
            bytes: TokenBucket::new(SHARD_BYTES_PER_SEC * ratio, now),
        }
    }

    /// How long until one Kinesis record of `bytes` bytes may be sent.
    pub fn wait_time(&mut self, bytes: usize, now: Instant) -> Duration {
        self.records.wait_time(1.0, now).max(self.bytes.wait_time(bytes as f64, now))
    }

    pub fn take(&mut self, bytes: usize, now: Instant) {
        self.records.take(1.0, now);
        self.bytes.take(bytes as f64, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_bucket_lets_a_second_of_records_through_then_paces() {
        let start = Instant::now();
        let mut pacer = ShardPacer::new(1.0, start);
        for _ in 0..1000 {
            assert_eq!(pacer.wait_time(100, start), Duration::ZERO);
            pacer.take(100, start);
        }
        let wait = pacer.wait_time(100, start);
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(2), "{wait:?}");
        let later = start + Duration::from_millis(10);
        assert_eq!(pacer.wait_time(100, later), Duration::ZERO);
    }

    #[test]
    fn bytes_are_paced_and_an_oversized_cost_passes_once_full() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(1000.0, start);
        assert_eq!(bucket.wait_time(5000.0, start), Duration::ZERO);
        bucket.take(5000.0, start);
        // 4,000 tokens in debt: a 1-token cost waits until the debt is paid back.
        let wait = bucket.wait_time(1.0, start);
        assert!(wait >= Duration::from_millis(4000) && wait < Duration::from_millis(4010), "{wait:?}");
    }

    #[test]
    fn the_ratio_scales_the_allowance() {
        let start = Instant::now();
        let mut pacer = ShardPacer::new(0.5, start);
        for _ in 0..500 {
            pacer.take(10, start);
        }
        assert!(pacer.wait_time(10, start) > Duration::ZERO);
    }
}
