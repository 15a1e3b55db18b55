//! Counts of audit events by kind (`scimd_token_events_total`). Process-wide, because
//! `audit::record` runs deep inside services that have no handle on the application.
//!
//! An event is counted when its row is written, inside the caller's transaction: a transaction
//! that later rolls back has still been counted. Read these as attempts, and the audit trail as
//! the record of what happened.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use super::family::Family;
use super::text::Exposition;
use crate::audit::Kind;

/// Shown at 0 from the start, so dashboards and alerts on them have a series before the first one.
const PRESET: [Kind; 15] = [
    Kind::TokenIssued,
    Kind::TokenRefreshed,
    Kind::RefreshRetried,
    Kind::RefreshReuseDetected,
    Kind::RefreshRejected,
    Kind::CodeIssued,
    Kind::CodeRedeemed,
    Kind::CodeReused,
    Kind::CodeRejected,
    Kind::ClientAuthFailed,
    Kind::ScimAuthFailed,
    Kind::LoginFailed,
    Kind::StaticTokenIssued,
    Kind::StaticTokenRevoked,
    Kind::GrantRevoked,
];

static EVENTS: LazyLock<Family<1, AtomicU64>> = LazyLock::new(|| {
    let family = Family::default();
    for kind in PRESET {
        family.with([kind.as_str()], |_| {});
    }
    family
});

/// Called by `audit::record` for every event it writes.
pub fn count(kind: Kind) {
    EVENTS.with([kind.as_str()], |counter| {
        counter.fetch_add(1, Ordering::Relaxed);
    });
}

pub fn render(out: &mut Exposition) {
    const NAME: &str = "scimd_token_events_total";
    out.family(
        NAME,
        "counter",
        "Audit events written, by kind; counted inside their transaction, so a rolled-back one \
         still counts.",
    );
    EVENTS.each(|[event], counter| {
        out.sample(NAME, &[("event", *event)], counter.load(Ordering::Relaxed));
    });
}
