//! Property test: for random resources and random filters, the SQL the server runs selects
//! exactly the users that the in-memory reference evaluator (`scim::filter::matches`) accepts.
//! A failure prints the seed and the filter, so it can be replayed.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use scimd::scim::filter::{matches, parse_filter};
use scimd::scim::hints::SchemaHints;
use scimd::scim::schema::{Registry, ResourceKind};

use crate::support::*;

/// xorshift64*: small, deterministic, good enough to explore a grammar.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// Words with case variants and LIKE wildcards, so escaping and case rules are exercised.
const WORDS: &[&str] =
    &["alpha", "Alpha", "alphabet", "beta", "BETA-x", "a_b", "axb", "50%", "5000"];
const DATES: &[&str] = &[
    "2024-01-01T00:00:00Z",
    "2025-06-30T12:00:00Z",
    "2025-06-30T14:00:00+02:00",
    "2026-11-23T08:15:00Z",
];

fn random_user(rng: &mut Rng, index: usize) -> Value {
    let mut user = json!({
        "schemas": [USER_SCHEMA, ACME_EXTENSION],
        "userName": format!("{}-{index}", rng.pick(WORDS)),
        "active": rng.chance(50),
    });
    let mut acme = serde_json::Map::new();
    if rng.chance(70) {
        user["displayName"] = json!(rng.pick(WORDS));
    }
    if rng.chance(50) {
        user["title"] = json!(rng.pick(WORDS));
    }
    if rng.chance(60) {
        user["name"] = json!({"familyName": rng.pick(WORDS)});
    }
    if rng.chance(40) {
        user["externalId"] = json!(rng.pick(WORDS));
    }
    let emails: Vec<Value> = (0..rng.below(3))
        .map(|_| json!({"value": format!("{}@{}.test", rng.pick(WORDS), rng.pick(&["x", "y"])), "type": rng.pick(&["work", "home"])}))
        .collect();
    if !emails.is_empty() {
        user["emails"] = json!(emails);
    }
    if rng.chance(70) {
        acme.insert("badgeNumber".into(), json!(rng.below(12) as i64 - 2));
    }
    if rng.chance(70) {
        acme.insert("hireDate".into(), json!(rng.pick(DATES)));
    }
    if rng.chance(70) {
        acme.insert("costCode".into(), json!(rng.pick(WORDS)));
    }
    user[ACME_EXTENSION] = Value::Object(acme);
    user
}

fn quoted(text: &str) -> String {
    format!("\"{text}\"")
}

/// One comparison on an attribute, with an operand of that attribute's type.
fn leaf(rng: &mut Rng) -> String {
    let string_ops = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"];
    let ordered_ops = ["eq", "ne", "gt", "ge", "lt", "le"];
    let ext = ACME_EXTENSION;
    match rng.below(11) {
        0 => format!("userName {} {}", rng.pick(&string_ops), quoted(rng.pick(WORDS))),
        1 => format!("displayName {} {}", rng.pick(&string_ops), quoted(rng.pick(WORDS))),
        2 => format!("title {} {}", rng.pick(&string_ops), quoted(rng.pick(WORDS))),
        3 => format!("name.familyName {} {}", rng.pick(&string_ops), quoted(rng.pick(WORDS))),
        4 => format!("externalId {} {}", rng.pick(&string_ops), quoted(rng.pick(WORDS))),
        5 => format!("active {} {}", rng.pick(&["eq", "ne"]), rng.pick(&["true", "false"])),
        6 => format!("{ext}:badgeNumber {} {}", rng.pick(&ordered_ops), rng.below(12) as i64 - 2),
        7 => format!("{ext}:hireDate {} {}", rng.pick(&ordered_ops), quoted(rng.pick(DATES))),
        8 => format!("{ext}:costCode {} {}", rng.pick(&string_ops), quoted(rng.pick(WORDS))),
        9 => format!("emails {} {}", rng.pick(&["co", "sw", "eq"]), quoted(rng.pick(WORDS))),
        _ => {
            let attr =
                rng.pick(&["title", "displayName", "name.familyName", "emails", "externalId"]);
            let attr = if attr == "name.familyName" && rng.chance(50) { "name" } else { attr };
            format!("{attr} pr")
        }
    }
}

fn element_filter(rng: &mut Rng) -> String {
    let typed = format!("type eq {}", quoted(rng.pick(&["work", "home"])));
    let valued = format!("value {} {}", rng.pick(&["co", "sw", "ew"]), quoted(rng.pick(WORDS)));
    match rng.below(3) {
        0 => typed,
        1 => format!("{typed} and {valued}"),
        _ => format!("{typed} and not ({valued})"),
    }
}

fn random_filter(rng: &mut Rng, depth: usize) -> String {
    if depth == 0 || rng.chance(35) {
        return if rng.chance(15) { format!("emails[{}]", element_filter(rng)) } else { leaf(rng) };
    }
    match rng.below(3) {
        0 => format!("({} and {})", random_filter(rng, depth - 1), random_filter(rng, depth - 1)),
        1 => format!("{} or {}", random_filter(rng, depth - 1), random_filter(rng, depth - 1)),
        _ => format!("not ({})", random_filter(rng, depth - 1)),
    }
}

fn ids(page: &Value) -> BTreeSet<String> {
    page["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn sql_filters_agree_with_the_reference_evaluator() {
    let seed =
        std::env::var("SCIMD_FILTER_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5c1d_2026);
    let mut rng = Rng(seed);
    let app = spawn_app().await;
    for index in 0..40 {
        let user = random_user(&mut rng, index);
        expect_json(app.post("/Users", &user).await, StatusCode::CREATED).await;
    }
    let everyone = expect_json(app.get("/Users?count=1000").await, StatusCode::OK).await;
    let users = everyone["Resources"].as_array().unwrap().clone();
    assert_eq!(users.len(), 40);
    let schemas = Registry::new(&acme_extension()).unwrap();
    let hints = SchemaHints::new(schemas.resource(ResourceKind::User));
    let mut non_trivial = 0;
    for round in 0..250 {
        let text = random_filter(&mut rng, 3);
        let filter = parse_filter(&text).unwrap_or_else(|e| panic!("seed {seed:#x}: {text}: {e}"));
        let expected: BTreeSet<String> = users
            .iter()
            .filter(|u| matches(&filter, u, &hints))
            .map(|u| u["id"].as_str().unwrap().to_owned())
            .collect();
        let response =
            app.get(&format!("/Users?count=1000&attributes=id&filter={}", urlencode(&text))).await;
        let page = expect_json(response, StatusCode::OK).await;
        assert_eq!(ids(&page), expected, "seed {seed:#x}, round {round}: {text}");
        if !expected.is_empty() && expected.len() < users.len() {
            non_trivial += 1;
        }
    }
    // The generator must produce filters that split the population, or the test proves nothing.
    assert!(non_trivial > 100, "only {non_trivial} filters selected a proper subset");
}
