//! The Prometheus text exposition format, version 0.0.4: `# HELP`/`# TYPE` per family, then one
//! `name{label="value",…} number` line per sample. Written by hand; it is all a scraper needs.

use std::fmt::Write;

/// What `/metrics` answers with.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A number as the format spells it (`+Inf`, not Rust's `inf`).
pub trait SampleValue {
    fn write_to(&self, out: &mut String);
}

impl SampleValue for u64 {
    fn write_to(&self, out: &mut String) {
        let _ = write!(out, "{self}");
    }
}

impl SampleValue for i64 {
    fn write_to(&self, out: &mut String) {
        let _ = write!(out, "{self}");
    }
}

impl SampleValue for f64 {
    fn write_to(&self, out: &mut String) {
        if self.is_nan() {
            out.push_str("NaN");
        } else if self.is_infinite() {
            out.push_str(if *self > 0.0 { "+Inf" } else { "-Inf" });
        } else {
            let _ = write!(out, "{self}");
        }
    }
}

/// The text being built. Callers write each family's samples right after its header: the format
/// wants a family's lines together.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    /// Starts a family: `kind` is `counter`, `gauge` or `histogram`.
    pub fn family(&mut self, name: &str, kind: &str, help: &str) {
        self.out.push_str("# HELP ");
        self.out.push_str(name);
        self.out.push(' ');
        escape_into(&mut self.out, help, false);
        self.out.push_str("\n# TYPE ");
        self.out.push_str(name);
        self.out.push(' ');
        self.out.push_str(kind);
        self.out.push('\n');
    }

    /// One sample; `name` may carry a suffix of its family (`_bucket`, `_sum`, `_count`).
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl SampleValue) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (label, text)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                self.out.push_str(label);
                self.out.push_str("=\"");
                escape_into(&mut self.out, text, true);
                self.out.push('"');
            }
            self.out.push('}');
        }
        self.out.push(' ');
        value.write_to(&mut self.out);
        self.out.push('\n');
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// Backslash and newline are escaped in HELP text and label values; `"` in label values only.
fn escape_into(out: &mut String, text: &str, quote: bool) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_and_samples_are_formatted() {
        let mut text = Exposition::default();
        text.family("x_total", "counter", "Things.");
        text.sample("x_total", &[], 3u64);
        text.sample("x_total", &[("a", "1"), ("b", "")], 0u64);
        text.family("y", "gauge", "Level.");
        text.sample("y", &[("le", "+Inf")], -2i64);
        assert_eq!(
            text.finish(),
            "# HELP x_total Things.\n# TYPE x_total counter\nx_total 3\nx_total{a=\"1\",b=\"\"} 0\n\
             # HELP y Level.\n# TYPE y gauge\ny{le=\"+Inf\"} -2\n"
        );
    }

    #[test]
    fn label_values_and_help_are_escaped() {
        let mut text = Exposition::default();
        text.family("z", "gauge", "a \"quoted\" back\\slash\nline");
        text.sample("z", &[("v", "a\"b\\c\nd")], 1u64);
        assert_eq!(
            text.finish(),
            "# HELP z a \"quoted\" back\\\\slash\\nline\n# TYPE z gauge\n\
             z{v=\"a\\\"b\\\\c\\nd\"} 1\n"
        );
    }

    #[test]
    fn floats_use_the_formats_spelling() {
        let render = |v: f64| {
            let mut out = String::new();
            v.write_to(&mut out);
            out
        };
        assert_eq!(render(0.25), "0.25");
        assert_eq!(render(10.0), "10");
        assert_eq!(render(f64::INFINITY), "+Inf");
        assert_eq!(render(f64::NEG_INFINITY), "-Inf");
        assert_eq!(render(f64::NAN), "NaN");
    }
}
