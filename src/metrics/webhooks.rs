//! The webhook families: deliveries by outcome (this node's counter), and the backlog every node
//! sees alike (queue depth and the age of the oldest undelivered event), sampled at scrape time.

use super::text::Exposition;

/// What a scrape knows of webhooks.
#[derive(Debug, Clone, Default)]
pub struct WebhookSample {
    /// (outcome, attempts) of this node.
    pub deliveries: Vec<(&'static str, u64)>,
    /// Events waiting for enabled endpoints, summed over endpoints and tenants.
    pub queue_depth: i64,
    /// Age of the oldest of them, in seconds (0 when none waits).
    pub lag_seconds: f64,
}

pub fn render(sample: &WebhookSample) -> String {
    let mut out = Exposition::default();
    const DELIVERIES: &str = "scimd_webhook_deliveries_total";
    out.family(DELIVERIES, "counter", "Webhook delivery attempts by this node, by outcome.");
    for (outcome, n) in &sample.deliveries {
        out.sample(DELIVERIES, &[("outcome", outcome)], *n);
    }
    const DEPTH: &str = "scimd_webhook_queue_depth";
    out.family(DEPTH, "gauge", "Events not yet delivered to enabled webhook endpoints.");
    out.sample(DEPTH, &[], sample.queue_depth);
    const LAG: &str = "scimd_webhook_lag_seconds";
    out.family(LAG, "gauge", "Age of the oldest event not yet delivered to an enabled endpoint.");
    out.sample(LAG, &[], sample.lag_seconds);
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_rendered() {
        let sample = WebhookSample {
            deliveries: vec![("delivered", 3), ("failed", 1)],
            queue_depth: 2,
            lag_seconds: 1.5,
        };
        let text = render(&sample);
        for line in [
            "scimd_webhook_deliveries_total{outcome=\"delivered\"} 3",
            "scimd_webhook_deliveries_total{outcome=\"failed\"} 1",
            "scimd_webhook_queue_depth 2",
            "scimd_webhook_lag_seconds 1.5",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
        }
    }
}
