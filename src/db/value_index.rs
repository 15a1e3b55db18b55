//! The filter index: every simple value nested in a resource, flattened to `(attr, element, value)`
//! rows so filters on any attribute run in SQL instead of loading a tenant's rows.

use serde_json::Value;

use super::rows::ValueRow;
use crate::clock::parse_rfc3339;
use crate::scim::schema::{AttrType, ResourceSchemas};

/// Attribute names as indexed: lower-case, sub-attributes after a dot, extension attributes prefixed
/// with their lower-case schema URN and a colon (`urn:…:enterprise:2.0:user:department`).
pub fn index_key(urn: Option<&str>, name: &str, sub: Option<&str>) -> String {
    let mut key = String::new();
    if let Some(urn) = urn {
        key.push_str(&urn.to_ascii_lowercase());
        key.push(':');
    }
    key.push_str(&name.to_ascii_lowercase());
    if let Some(sub) = sub {
        key.push('.');
        key.push_str(&sub.to_ascii_lowercase());
    }
    key
}

/// Characters of a folded value the lookup index holds: at most 1 kB of UTF-8, well inside
/// PostgreSQL's btree entry limit (about 2.7 kB) with the tenant and attribute beside it.
pub const LOOKUP_KEY_CHARS: usize = 256;

/// The `value_key` of a folded value: its first `LOOKUP_KEY_CHARS` characters (the migration
/// computes the same with `substr`). Equal values have equal keys, so an equality test on
/// `value_ci` may narrow by the key first.
pub fn lookup_key(folded: &str) -> String {
    folded.chars().take(LOOKUP_KEY_CHARS).collect()
}

/// Text form of a simple value as stored in the index; `None` for null, objects and arrays.
pub fn index_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The number a value is ordered by in range filters and sorting: JSON numbers as they are,
/// `dateTime` attributes as Unix milliseconds. `None` for everything compared as text.
pub fn index_number(value: &Value, kind: Option<AttrType>) -> Option<f64> {
    match (value, kind) {
        (Value::Number(n), _) => n.as_f64(),
        (Value::String(s), Some(AttrType::DateTime)) => parse_rfc3339(s).map(|ms| ms as f64),
        _ => None,
    }
}

/// Flattens `data` (a stored resource of `kind` without `id`/`meta`) into index rows. Top-level
/// attributes in `skip` have dedicated columns and are left out.
pub fn index_rows(
    schemas: ResourceSchemas,
    tenant_id: &str,
    resource_id: &str,
    data: &Value,
    skip: &[&str],
) -> Vec<ValueRow> {
    let mut rows = Vec::new();
    let Some(object) = data.as_object() else {
        return rows;
    };
    let mut push = |path: (Option<&str>, &str, Option<&str>), element: String, value: &Value| {
        let Some(text) = index_text(value) else { return };
        let (urn, name, sub) = path;
        let attr_type = schemas.find_attribute(urn, name, sub).map(|def| def.kind);
        rows.push(ValueRow {
            resource_id: resource_id.to_owned(),
            tenant_id: tenant_id.to_owned(),
            attr: index_key(urn, name, sub),
            element,
            value_key: lookup_key(&text.to_lowercase()),
            value_ci: text.to_lowercase(),
            value: text,
            value_num: index_number(value, attr_type),
        });
    };
    for (name, value) in object {
        if name == "schemas" || skip.iter().any(|s| s.eq_ignore_ascii_case(name)) {
            continue;
        }
        if name.starts_with("urn:") {
            // An extension object: its attributes are keyed under the URN.
            if let Some(ext) = value.as_object() {
                for (ext_name, ext_value) in ext {
                    flatten(Some(name), ext_name, ext_value, resource_id, &mut push);
                }
            }
            continue;
        }
        flatten(None, name, value, resource_id, &mut push);
    }
    rows
}

fn flatten(
    urn: Option<&str>,
    name: &str,
    value: &Value,
    resource_id: &str,
    push: &mut impl FnMut((Option<&str>, &str, Option<&str>), String, &Value),
) {
    match value {
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                let element = format!("{resource_id}/{}/{index}", index_key(urn, name, None));
                match item {
                    Value::Object(fields) => {
                        for (sub, sub_value) in fields {
                            push((urn, name, Some(sub)), element.clone(), sub_value);
                        }
                    }
                    simple => push((urn, name, None), element, simple),
                }
            }
        }
        Value::Object(fields) => {
            let element = format!("{resource_id}/{}", index_key(urn, name, None));
            for (sub, sub_value) in fields {
                push((urn, name, Some(sub)), element.clone(), sub_value);
            }
        }
        simple => push((urn, name, None), String::new(), simple),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::{Registry, ResourceKind};
    use serde_json::json;

    #[test]
    fn flattens_multi_valued_complex_and_extension_values() {
        let data = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "skipped",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"value": "Ada@Example.com", "type": "work", "primary": true}],
            "locale": "en-GB",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D", "manager": {"value": "m1"}}
        });
        let rows = index_rows(
            Registry::builtin().resource(ResourceKind::User),
            "t",
            "u1",
            &data,
            &["userName"],
        );
        let got: Vec<(&str, &str, &str)> = rows
            .iter()
            .map(|r| (r.attr.as_str(), r.element.as_str(), r.value_ci.as_str()))
            .collect();
        let ext = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user";
        assert_eq!(
            got,
            vec![
                ("name.givenname", "u1/name", "ada"),
                ("name.familyname", "u1/name", "lovelace"),
                ("emails.value", "u1/emails/0", "ada@example.com"),
                ("emails.type", "u1/emails/0", "work"),
                ("emails.primary", "u1/emails/0", "true"),
                ("locale", "", "en-gb"),
                (&format!("{ext}:department"), "", "r&d"),
                (&format!("{ext}:manager.value"), &format!("u1/{ext}:manager"), "m1"),
            ]
        );
        assert_eq!(rows[2].value, "Ada@Example.com");
        assert!(rows.iter().all(|r| r.value_num.is_none()));
    }

    #[test]
    fn numbers_and_date_times_are_indexed_as_numbers() {
        let date = json!("2026-01-02T03:04:05Z");
        assert_eq!(index_number(&json!(42), None), Some(42.0));
        assert_eq!(index_number(&json!(-1.5), Some(AttrType::Decimal)), Some(-1.5));
        assert_eq!(index_number(&date, Some(AttrType::DateTime)), Some(1_767_323_045_000.0));
        assert_eq!(index_number(&date, Some(AttrType::String)), None);
        assert_eq!(index_number(&json!("not a date"), Some(AttrType::DateTime)), None);
        assert_eq!(index_number(&json!(true), Some(AttrType::Boolean)), None);
    }
}
