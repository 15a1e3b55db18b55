//! In-memory evaluation of filters against SCIM resource JSON; the reference semantics for PATCH
//! value filters and for checking the SQL translation.
//!
//! Semantics chosen where RFC 7644 is silent:
//! - A multi-valued attribute matches when any of its elements matches.
//! - A comparison without a sub-attribute on a complex attribute compares its `value` sub-attribute.
//! - "Present" means non-null, not `""`, not `[]` and not an object with nothing present inside.
//! - `x eq null` is true exactly when `x` is not present; every other operator with `null` is false.
//! - `ne` is always the negation of `eq` (so an absent attribute is `ne` anything, and a
//!   multi-valued attribute is `ne v` only when no element equals `v`).
//! - Type mismatches (string vs number, ordering on booleans, ...) are false.

use std::cmp::Ordering;

use serde_json::{Map, Number, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::ast::{
    AttrPath, CompValue, CompareOp, Expr, Filter, NoValuePath, ValueFilter, ValuePath,
};
use crate::scim::hints::AttributeHints;

/// True when `resource` satisfies `filter`.
pub fn matches(filter: &Filter, resource: &Value, hints: &dyn AttributeHints) -> bool {
    eval(filter, resource, None, hints)
}

/// Evaluates a value-path filter against one element of the multi-valued attribute `parent`, as
/// PATCH does for `emails[type eq "work"]`.
pub(crate) fn matches_element(
    filter: &ValueFilter,
    element: &Value,
    parent: &AttrPath,
    hints: &dyn AttributeHints,
) -> bool {
    eval(filter, element, Some(parent), hints)
}

/// How each level evaluates what stands in place of a value path.
trait EvalNested {
    fn eval(&self, scope: &Value, parent: Option<&AttrPath>, hints: &dyn AttributeHints) -> bool;
}

impl EvalNested for ValuePath {
    /// True when some element of `attr` satisfies the bracketed filter.
    fn eval(&self, scope: &Value, parent: Option<&AttrPath>, hints: &dyn AttributeHints) -> bool {
        let full = full_path(&self.attr, parent);
        raw_values(scope, &self.attr, parent)
            .iter()
            .flat_map(|v| match v {
                Value::Array(items) => items.iter().collect::<Vec<_>>(),
                other => vec![*other],
            })
            .any(|element| eval(&self.filter, element, Some(&full), hints))
    }
}

impl EvalNested for NoValuePath {
    fn eval(&self, _: &Value, _: Option<&AttrPath>, _: &dyn AttributeHints) -> bool {
        match *self {}
    }
}

fn eval<V: EvalNested>(
    f: &Expr<V>,
    scope: &Value,
    parent: Option<&AttrPath>,
    hints: &dyn AttributeHints,
) -> bool {
    match f {
        Expr::And(l, r) => eval(l, scope, parent, hints) && eval(r, scope, parent, hints),
        Expr::Or(l, r) => eval(l, scope, parent, hints) || eval(r, scope, parent, hints),
        Expr::Not(inner) => !eval(inner, scope, parent, hints),
        Expr::Present(path) => raw_values(scope, path, parent).iter().any(|v| is_present(v)),
        Expr::Compare { path, op, value } => {
            let full = full_path(path, parent);
            match (op, value) {
                (CompareOp::Eq, CompValue::Null) => {
                    !raw_values(scope, path, parent).iter().any(|v| is_present(v))
                }
                (CompareOp::Ne, CompValue::Null) => {
                    raw_values(scope, path, parent).iter().any(|v| is_present(v))
                }
                (_, CompValue::Null) => false,
                (CompareOp::Ne, _) => !compared_values(scope, path, parent)
                    .iter()
                    .any(|c| compare(c, CompareOp::Eq, value, hints.case_exact(&full))),
                _ => compared_values(scope, path, parent)
                    .iter()
                    .any(|c| compare(c, *op, value, hints.case_exact(&full))),
            }
        }
        Expr::ValuePath(nested) => nested.eval(scope, parent, hints),
    }
}

/// The schema-level path of `path`, which is relative to `parent` inside a value filter.
fn full_path(path: &AttrPath, parent: Option<&AttrPath>) -> AttrPath {
    match parent {
        None => path.clone(),
        Some(p) => p.with_sub(path.name.clone()),
    }
}

/// Case-insensitive key lookup, as attribute names are case-insensitive (RFC 7643 §2.1).
pub(crate) fn get_ci<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key).or_else(|| map.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
}

/// The object holding `path`'s attribute: the resource itself, or its extension object.
fn container<'a>(
    scope: &'a Value,
    path: &AttrPath,
    parent: Option<&AttrPath>,
) -> Option<&'a Map<String, Value>> {
    let obj = scope.as_object()?;
    match &path.urn {
        // Inside a value filter the element is the scope whatever the URN says.
        _ if parent.is_some() => Some(obj),
        None => Some(obj),
        Some(_) if path.is_core() => Some(obj),
        Some(urn) => get_ci(obj, urn)?.as_object(),
    }
}

/// The attribute's stored values, sub-attribute applied, without substituting `value`.
fn raw_values<'a>(scope: &'a Value, path: &AttrPath, parent: Option<&AttrPath>) -> Vec<&'a Value> {
    let Some(attr) = container(scope, path, parent).and_then(|c| get_ci(c, &path.name)) else {
        return Vec::new();
    };
    match &path.sub {
        None => vec![attr],
        Some(sub) => {
            let sub_of = |v: &'a Value| v.as_object().and_then(|o| get_ci(o, sub));
            match attr {
                Value::Array(items) => items.iter().filter_map(sub_of).collect(),
                other => sub_of(other).into_iter().collect(),
            }
        }
    }
}

/// The simple values a comparison looks at: arrays flattened and complex values replaced by
/// their `value` sub-attribute.
fn compared_values<'a>(
    scope: &'a Value,
    path: &AttrPath,
    parent: Option<&AttrPath>,
) -> Vec<&'a Value> {
    let mut out = Vec::new();
    for v in raw_values(scope, path, parent) {
        match v {
            Value::Array(items) => out.extend(items.iter().filter_map(value_of)),
            other => out.extend(value_of(other)),
        }
    }
    out
}

fn value_of(v: &Value) -> Option<&Value> {
    match v {
        Value::Object(o) => get_ci(o, "value"),
        Value::Array(_) => None,
        other => Some(other),
    }
}

/// RFC 7644 §3.4.2.2 `pr`: has a non-empty value.
pub(crate) fn is_present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => items.iter().any(is_present),
        Value::Object(o) => o.values().any(is_present),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

fn compare(actual: &Value, op: CompareOp, expected: &CompValue, case_exact: bool) -> bool {
    match (actual, expected) {
        (Value::String(a), CompValue::Str(e)) => compare_strings(a, op, e, case_exact),
        (Value::Number(a), CompValue::Number(e)) => {
            compare_numbers(a, e).is_some_and(|ord| ordering_satisfies(ord, op))
        }
        (Value::Bool(a), CompValue::Bool(e)) => op == CompareOp::Eq && a == e,
        _ => false,
    }
}

fn compare_strings(actual: &str, op: CompareOp, expected: &str, case_exact: bool) -> bool {
    if matches!(op, CompareOp::Eq | CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le) {
        // Timestamps with different offsets or precision can name the same instant.
        if let (Some(a), Some(e)) = (parse_datetime(actual), parse_datetime(expected)) {
            return ordering_satisfies(a.cmp(&e), op);
        }
    }
    let (a, e) = if case_exact {
        (actual.to_owned(), expected.to_owned())
    } else {
        (actual.to_lowercase(), expected.to_lowercase())
    };
    match op {
        CompareOp::Co => a.contains(&e),
        CompareOp::Sw => a.starts_with(&e),
        CompareOp::Ew => a.ends_with(&e),
        _ => ordering_satisfies(a.cmp(&e), op),
    }
}

fn parse_datetime(s: &str) -> Option<OffsetDateTime> {
    // Cheap shape check first: every RFC 3339 date-time starts `YYYY-`.
    if s.len() < 20 || s.as_bytes().get(4) != Some(&b'-') {
        return None;
    }
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// Exact for integers of either sign, `f64` otherwise.
fn compare_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

fn ordering_satisfies(ord: Ordering, op: CompareOp) -> bool {
    match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::scim::filter::parse_filter;
    use crate::scim::hints::CoreHints;

    fn user() -> Value {
        json!({
            "schemas": [
                "urn:ietf:params:scim:schemas:core:2.0:User",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
            ],
            "id": "2819c223-7f76-453a-919d-413861904646",
            "externalId": "ExtID",
            "userName": "Bjensen@Example.com",
            "name": {"familyName": "Jensen", "givenName": "Barbara"},
            "displayName": "Babs Jensen",
            "nickName": "",
            "title": null,
            "active": true,
            "loginCount": 42,
            "score": 2.5,
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "phoneNumbers": [],
            "x509Certificates": ["MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAwTjELMAkGA1UEBhMCVVMx"],
            "meta": {
                "resourceType": "User",
                "created": "2010-01-23T04:56:22Z",
                "lastModified": "2011-05-13T04:42:34Z",
                "version": "W/\"3694e05e9dff591\""
            },
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "employeeNumber": "701984",
                "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}
            }
        })
    }

    fn check(filter: &str) -> bool {
        let f = parse_filter(filter).unwrap_or_else(|e| panic!("{filter:?}: {e}"));
        matches(&f, &user(), &CoreHints)
    }

    #[test]
    fn evaluates_table() {
        let cases: &[(&str, bool)] = &[
            // Strings: case-insensitive unless caseExact.
            (r#"userName eq "bjensen@example.com""#, true),
            (r#"USERNAME eq "BJENSEN@EXAMPLE.COM""#, true),
            (r#"externalId eq "extid""#, false),
            (r#"externalId eq "ExtID""#, true),
            (r#"id eq "2819C223-7F76-453A-919D-413861904646""#, false),
            (r#"userName ne "bjensen@example.com""#, false),
            (r#"userName ne "other""#, true),
            (r#"userName co "JENSEN""#, true),
            (r#"userName co "nobody""#, false),
            (r#"userName sw "bj""#, true),
            (r#"userName sw "jensen""#, false),
            (r#"userName ew ".COM""#, true),
            (r#"userName ew "org""#, false),
            (r#"displayName gt "Babs""#, true),
            (r#"displayName gt "babs jensen""#, false),
            (r#"displayName ge "babs jensen""#, true),
            (r#"displayName lt "c""#, true),
            (r#"displayName le "a""#, false),
            // Sub-attributes of complex attributes.
            (r#"name.familyName eq "jensen""#, true),
            (r#"name.givenName sw "X""#, false),
            // Datetimes compare as instants.
            (r#"meta.lastModified gt "2011-05-13T04:42:33Z""#, true),
            (r#"meta.lastModified gt "2011-05-13T06:42:33+02:00""#, true),
            (r#"meta.lastModified ge "2011-05-13T04:42:34.000Z""#, true),
            (r#"meta.lastModified eq "2011-05-13T06:42:34+02:00""#, true),
            (r#"meta.lastModified lt "2011-05-13T04:42:34Z""#, false),
            (r#"meta.created lt "2011-01-01T00:00:00Z""#, true),
            // meta.version is caseExact.
            (r#"meta.version eq "w/\"3694E05E9DFF591\"""#, false),
            (r#"meta.version eq "W/\"3694e05e9dff591\"""#, true),
            // Numbers compare numerically; type mismatches are false.
            ("loginCount eq 42", true),
            ("loginCount eq 42.0", true),
            ("loginCount gt 9", true),
            ("loginCount lt 100", true),
            ("loginCount le 41", false),
            ("loginCount ge 42", true),
            (r#"loginCount eq "42""#, false),
            ("score gt 2", true),
            ("score lt 2.5", false),
            ("loginCount co 4", false),
            // Booleans: only eq / ne.
            ("active eq true", true),
            ("active eq FALSE", false),
            ("active ne false", true),
            ("active gt false", false),
            (r#"active eq "true""#, false),
            // Presence.
            ("userName pr", true),
            ("title pr", false),
            ("nickName pr", false),
            ("phoneNumbers pr", false),
            ("emails pr", true),
            ("name pr", true),
            ("nonexistent pr", false),
            ("emails.type pr", true),
            ("emails.display pr", false),
            // null.
            ("title eq null", true),
            ("nickName eq null", true),
            ("missing eq null", true),
            ("userName eq null", false),
            ("userName ne null", true),
            ("title ne null", false),
            ("userName gt null", false),
            // Absent attributes: ne is the negation of eq.
            (r#"missing eq "x""#, false),
            (r#"missing ne "x""#, true),
            (r#"missing co "x""#, false),
            // Multi-valued: any element; no sub-attribute compares `value`.
            (r#"emails co "jensen.org""#, true),
            (r#"emails eq "BJENSEN@example.com""#, true),
            (r#"emails.type eq "home""#, true),
            (r#"emails.type eq "other""#, false),
            (r#"emails.type ne "work""#, false),
            (r#"emails.value ew "@example.com""#, true),
            (r#"x509Certificates sw "MIID""#, true),
            (r#"emails[type eq "work" and value co "example"]"#, true),
            (r#"emails[type eq "home" and value co "example"]"#, false),
            (r#"emails[primary eq true]"#, true),
            (r#"emails[type eq "home" and primary eq true]"#, false),
            (r#"emails[not (primary pr)]"#, true),
            (r#"emails[value pr]"#, true),
            (r#"phoneNumbers[value pr]"#, false),
            (r#"nothing[value pr]"#, false),
            // Single complex attribute as a value path.
            (r#"name[givenName eq "barbara"]"#, true),
            // URNs: core means top level, others the extension object.
            (r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "bjensen""#, true),
            (r#"urn:ietf:params:scim:schemas:core:2.0:User:name.familyName eq "Jensen""#, true),
            (
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#,
                true,
            ),
            (
                r#"URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:EMPLOYEENUMBER eq "701984""#,
                true,
            ),
            (
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value sw "26118915""#,
                true,
            ),
            (
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq "26118915-6090-4610-87e4-49d8ca9f808d""#,
                true,
            ),
            (r#"urn:ietf:params:scim:schemas:extension:other:2.0:User:employeeNumber pr"#, false),
            (r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:userName pr"#, false),
            // Logic.
            (r#"userName sw "b" and active eq true"#, true),
            (r#"userName sw "x" or active eq true"#, true),
            (r#"userName sw "x" or active eq false"#, false),
            (r#"not (userName sw "x")"#, true),
            (r#"not (userName sw "b") or loginCount eq 1 and active eq true"#, false),
            (r#"(not (userName sw "b") or loginCount eq 42) and active eq true"#, true),
        ];
        for (filter, expected) in cases {
            assert_eq!(check(filter), *expected, "{filter}");
        }
    }

    #[test]
    fn non_object_resources_never_match() {
        let f = parse_filter("userName pr").unwrap();
        assert!(!matches(&f, &json!("x"), &CoreHints));
        assert!(!matches(&f, &json!(null), &CoreHints));
        let f = parse_filter("userName eq null").unwrap();
        assert!(matches(&f, &json!([]), &CoreHints));
    }

    /// The bracketed filter of `members[<filter>]`, as a PATCH path holds it.
    fn value_filter(text: &str) -> ValueFilter {
        crate::scim::path::parse_patch_path(&format!("members[{text}]")).unwrap().filter.unwrap()
    }

    #[test]
    fn element_matching_uses_full_paths_for_hints() {
        // `value` of members is not caseExact in CoreHints, `$ref` is.
        let f = value_filter(r#"$ref eq "https://x/Users/A""#);
        let member = json!({"value": "a", "$ref": "https://x/Users/a"});
        assert!(!matches_element(&f, &member, &AttrPath::new("members"), &CoreHints));
        let f = value_filter(r#"value eq "A""#);
        assert!(matches_element(&f, &member, &AttrPath::new("members"), &CoreHints));
    }

    #[test]
    fn large_integers_compare_exactly() {
        let r = json!({"n": u64::MAX, "m": -9_007_199_254_740_993_i64});
        let f = parse_filter("n gt 18446744073709551614").unwrap();
        assert!(matches(&f, &r, &CoreHints));
        let f = parse_filter("m lt -9007199254740992").unwrap();
        assert!(matches(&f, &r, &CoreHints));
        let f = parse_filter("m lt 1.5").unwrap();
        assert!(matches(&f, &r, &CoreHints));
    }
}
