//! `/metrics` as a scraper reads it: a Prometheus text parser that checks the exposition format
//! on the way, and lookups of one sample by name and labels.

use std::collections::{BTreeMap, HashSet};

use reqwest::StatusCode;

use super::app::TestApp;

#[derive(Debug)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// The samples of an exposition, checking the format on the way: every sample belongs to a family
/// announced by `# HELP` and `# TYPE` just before its samples, and a family's lines are together.
pub fn parse(text: &str) -> Vec<Sample> {
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut finished: HashSet<String> = HashSet::new();
    let mut current: Option<String> = None;
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap().to_owned();
            assert!(!finished.contains(&name), "family {name} split: {text}");
            if let Some(previous) = current.replace(name) {
                finished.insert(previous);
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert_eq!(Some(name), current.as_deref(), "TYPE without HELP: {line}");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            types.insert(name.to_owned(), kind.to_owned());
            continue;
        }
        assert!(!line.starts_with('#') && !line.is_empty(), "unexpected line {line:?}");
        let sample = parse_sample(line);
        let family = current.as_deref().expect("sample before any family");
        let kind = types.get(family).map(String::as_str);
        let belongs = sample.name == family
            || (kind == Some("histogram")
                && ["_bucket", "_sum", "_count"]
                    .iter()
                    .any(|suffix| sample.name == format!("{family}{suffix}")));
        assert!(belongs, "{} outside its family (in {family})", sample.name);
        samples.push(sample);
    }
    samples
}

fn parse_sample(line: &str) -> Sample {
    let (series, value) = line.rsplit_once(' ').unwrap();
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().unwrap_or_else(|_| panic!("bad value in {line}")),
    };
    let Some((name, rest)) = series.split_once('{') else {
        return Sample { name: series.to_owned(), labels: BTreeMap::new(), value };
    };
    let mut labels = BTreeMap::new();
    let mut chars = rest.chars();
    loop {
        let label: String = chars.by_ref().take_while(|c| *c != '=').collect();
        assert_eq!(chars.next(), Some('"'), "{line}");
        let mut text = String::new();
        loop {
            match chars.next().unwrap() {
                '\\' => match chars.next().unwrap() {
                    'n' => text.push('\n'),
                    c @ ('\\' | '"') => text.push(c),
                    c => panic!("bad escape \\{c} in {line}"),
                },
                '"' => break,
                c => text.push(c),
            }
        }
        labels.insert(label, text);
        match chars.next() {
            Some(',') => continue,
            Some('}') => break,
            other => panic!("unexpected {other:?} in {line}"),
        }
    }
    assert_eq!(chars.next(), None, "{line}");
    Sample { name: name.to_owned(), labels, value }
}

pub fn find<'a>(samples: &'a [Sample], name: &str, labels: &[(&str, &str)]) -> Vec<&'a Sample> {
    samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v)))
        .collect()
}

pub fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let found = find(samples, name, labels);
    assert_eq!(found.len(), 1, "{name} {labels:?}: {found:?}");
    found[0].value
}

pub async fn scrape(app: &TestApp) -> Vec<Sample> {
    let response = app.client.get(format!("{}/metrics", app.address)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers().get("content-type").unwrap(),
        "text/plain; version=0.0.4; charset=utf-8"
    );
    parse(&response.text().await.unwrap())
}
