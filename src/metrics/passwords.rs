//! The password-verification gate of this node: its size, the most verifications that ran at
//! once (memory ≈ peak × 19 MiB) and how many callers it turned away busy.

use super::text::Exposition;

/// What a scrape knows of the gate.
#[derive(Debug, Clone, Copy, Default)]
pub struct PasswordSample {
    pub limit: u64,
    pub peak: u64,
    pub refused: u64,
}

pub fn render(sample: PasswordSample) -> String {
    let mut out = Exposition::default();
    const LIMIT: &str = "scimd_password_verifications_limit";
    out.family(LIMIT, "gauge", "Password verifications this node runs at once, at most.");
    out.sample(LIMIT, &[], sample.limit);
    const PEAK: &str = "scimd_password_verifications_peak";
    out.family(PEAK, "gauge", "Most password verifications that ran at once on this node.");
    out.sample(PEAK, &[], sample.peak);
    const BUSY: &str = "scimd_password_verifications_busy_total";
    out.family(
        BUSY,
        "counter",
        "Requests answered busy because every verification slot was taken.",
    );
    out.sample(BUSY, &[], sample.refused);
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_rendered() {
        let text = render(PasswordSample { limit: 2, peak: 1, refused: 3 });
        for line in [
            "scimd_password_verifications_limit 2",
            "scimd_password_verifications_peak 1",
            "scimd_password_verifications_busy_total 3",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
    }
}
