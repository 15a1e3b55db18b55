//! Injected time: domain code takes `now` from here so tests can move time without sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Milliseconds since the Unix epoch, the unit every stored timestamp uses.
pub type Millis = i64;

pub trait Clock: Send + Sync {
    fn now(&self) -> Millis;
}

/// The wall clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Millis {
        (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as Millis
    }
}

/// A clock tests move by hand.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(start: Millis) -> Arc<Self> {
        Arc::new(ManualClock(AtomicI64::new(start)))
    }
    pub fn advance(&self, millis: Millis) {
        self.0.fetch_add(millis, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Millis {
        self.0.load(Ordering::SeqCst)
    }
}

/// `2026-11-23T14:20:26.123Z`: fixed millisecond precision, so equal instants render equally.
pub fn to_rfc3339(millis: Millis) -> String {
    let nanos = i128::from(millis) * 1_000_000;
    match OffsetDateTime::from_unix_timestamp_nanos(nanos) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond()
        ),
        Err(_) => String::from("1970-01-01T00:00:00.000Z"),
    }
}

/// Parses an RFC 3339 date-time (any offset) to milliseconds.
pub fn parse_rfc3339(text: &str) -> Option<Millis> {
    OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as Millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_at_millisecond_precision() {
        let cases = [
            ("2026-01-01T00:00:00Z", "2026-01-01T00:00:00.000Z"),
            ("2026-11-23T14:20:26.123456Z", "2026-11-23T14:20:26.123Z"),
            ("2026-11-23T16:20:26.5+02:00", "2026-11-23T14:20:26.500Z"),
        ];
        for (input, rendered) in cases {
            let millis = parse_rfc3339(input).unwrap_or_default();
            assert_eq!(to_rfc3339(millis), rendered, "{input}");
        }
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
