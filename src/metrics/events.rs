//! `scimd_token_events_total`: audit events by kind, from the counts `audit::record` keeps in the
//! server's database handle (application state, not a global: each server counts its own).

use std::collections::BTreeMap;

use super::text::Exposition;
use crate::audit::Kind;
use crate::db::repo::audit::AuditCounts;

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

/// One series per event name counted so far or preset, in name order. An event is counted when
/// its row is written, inside its transaction: one rolled back later has still been counted, so
/// read these as attempts, and the audit trail as the record of what happened.
pub fn render(out: &mut Exposition, counts: &AuditCounts) {
    const NAME: &str = "scimd_token_events_total";
    out.family(
        NAME,
        "counter",
        "Audit events written, by kind; counted inside their transaction, so a rolled-back one \
         still counts.",
    );
    let mut series: BTreeMap<&str, u64> = PRESET.iter().map(|kind| (kind.as_str(), 0)).collect();
    series.extend(counts.snapshot());
    for (event, count) in series {
        out.sample(NAME, &[("event", event)], count);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(counts: &AuditCounts) -> Vec<String> {
        let mut out = Exposition::default();
        render(&mut out, counts);
        out.finish().lines().filter(|l| !l.starts_with('#')).map(str::to_owned).collect()
    }

    #[test]
    fn counts_belong_to_their_server_and_presets_start_at_zero() {
        let (one, other) = (AuditCounts::default(), AuditCounts::default());
        for kind in [Kind::TokenIssued, Kind::TenantCreated, Kind::TokenIssued] {
            one.add(kind.as_str());
        }
        other.add(Kind::LoginFailed.as_str());
        let one = rendered(&one);
        assert_eq!(one.len(), PRESET.len() + 1, "{one:?}");
        assert!(one.contains(&"scimd_token_events_total{event=\"token.issued\"} 2".to_owned()));
        assert!(one.contains(&"scimd_token_events_total{event=\"tenant.created\"} 1".to_owned()));
        assert!(one.contains(&"scimd_token_events_total{event=\"login.failed\"} 0".to_owned()));
        let mut sorted = one.clone();
        sorted.sort();
        assert_eq!(one, sorted, "series are in event order");
        let other = rendered(&other);
        assert!(other.contains(&"scimd_token_events_total{event=\"login.failed\"} 1".to_owned()));
        assert!(other.contains(&"scimd_token_events_total{event=\"token.issued\"} 0".to_owned()));
    }
}
