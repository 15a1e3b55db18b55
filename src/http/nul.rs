//! U+0000 in client input. PostgreSQL `text` cannot hold it (the statement fails, which would be
//! a 500) while SQLite stores it; no identifier or attribute of ours needs it. So every surface
//! refuses it at the edge, in its own error format, and both backends answer alike.

use serde_json::Value;

/// Whether any string of `value`, object keys included, contains U+0000.
pub fn in_json(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(in_json),
        Value::Object(fields) => fields.iter().any(|(k, v)| k.contains('\0') || in_json(v)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

/// Whether any decoded name or value of form or query `pairs` contains U+0000.
pub fn in_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> bool {
    pairs.into_iter().any(|(k, v)| k.contains('\0') || v.contains('\0'))
}

/// Whether a raw (still percent-encoded) request path or query encodes U+0000.
pub fn in_raw(text: &str) -> bool {
    text.contains("%00") || text.contains('\0')
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn nul_is_found_in_keys_values_and_nesting() {
        assert!(super::in_json(&json!({"a": [{"b": "x\u{0}y"}]})));
        assert!(super::in_json(&json!({"a\u{0}": 1})));
        assert!(!super::in_json(&json!({"a": [1, true, null, "ok"]})));
        assert!(super::in_pairs([("client_id", "a\u{0}")]));
        assert!(!super::in_pairs([("client_id", "a")]));
        assert!(super::in_raw("/scim/v2/Users/%00"));
        assert!(!super::in_raw("/scim/v2/Users/%200"));
    }
}
