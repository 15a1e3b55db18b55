//! The housekeeping families: rows deleted by table and runs by outcome, this node's counts.

use super::text::Exposition;
use crate::db::repo::retention::PruneCounts;

pub fn render(counts: &PruneCounts) -> String {
    let mut out = Exposition::default();
    const DELETED: &str = "scimd_retention_deleted_total";
    out.family(DELETED, "counter", "Rows deleted by this node's housekeeping, by table.");
    for (table, n) in counts.deleted() {
        out.sample(DELETED, &[("table", table)], n);
    }
    const RUNS: &str = "scimd_housekeeping_runs_total";
    out.family(
        RUNS,
        "counter",
        "Housekeeping runs of this node: done, skipped (another node held the lock), failed.",
    );
    for outcome in ["done", "skipped", "failed"] {
        out.sample(RUNS, &[("outcome", outcome)], counts.runs().get(outcome).copied().unwrap_or(0));
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_rendered() {
        let counts = PruneCounts::default();
        counts.add("oauth_codes", 3);
        counts.ran("done");
        let text = render(&counts);
        for line in [
            "scimd_retention_deleted_total{table=\"oauth_codes\"} 3",
            "scimd_housekeeping_runs_total{outcome=\"done\"} 1",
            "scimd_housekeeping_runs_total{outcome=\"failed\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
        }
    }
}
