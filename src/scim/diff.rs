//! Which attributes an update changed, named as a consumer of `user.updated` events wants them:
//! core attributes by name (`displayName`, `emails`), extension attributes by their full path
//! (`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department`).

use serde_json::{Map, Value};

/// The attributes whose values differ between two stored resources, in a stable order (those of
/// `before` first, in its order, then the ones only `after` has). Keys are compared without
/// regard to case, as SCIM attribute names are; `schemas`, `id` and `meta` are never reported.
pub fn changed_attributes(before: &Value, after: &Value) -> Vec<String> {
    let empty = Map::new();
    let before = before.as_object().unwrap_or(&empty);
    let after = after.as_object().unwrap_or(&empty);
    let mut changed = Vec::new();
    for_each_pair(before, after, |key, old, new| {
        if is_extension(key) {
            let empty = Value::Object(Map::new());
            let (old, new) = (old.unwrap_or(&empty), new.unwrap_or(&empty));
            match (old.as_object(), new.as_object()) {
                (Some(old), Some(new)) => for_each_pair(old, new, |sub, o, n| {
                    if o != n {
                        changed.push(format!("{key}:{sub}"));
                    }
                }),
                _ if old != new => changed.push(key.to_owned()),
                _ => {}
            }
        } else if !matches!(key.to_ascii_lowercase().as_str(), "schemas" | "id" | "meta")
            && old != new
        {
            changed.push(key.to_owned());
        }
    });
    changed
}

fn is_extension(key: &str) -> bool {
    key.len() > 4 && key.get(..4).is_some_and(|prefix| prefix.eq_ignore_ascii_case("urn:"))
}

/// Calls `f` once per key of either map (case-insensitively matched) with both values.
fn for_each_pair<'a>(
    before: &'a Map<String, Value>,
    after: &'a Map<String, Value>,
    mut f: impl FnMut(&'a str, Option<&'a Value>, Option<&'a Value>),
) {
    let find = |map: &'a Map<String, Value>, key: &str| {
        map.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v)
    };
    for (key, old) in before {
        f(key, Some(old), find(after, key));
    }
    for (key, new) in after {
        if find(before, key).is_none() {
            f(key, None, Some(new));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::changed_attributes;

    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    #[test]
    fn names_each_changed_added_and_removed_attribute_once() {
        let cases = [
            (json!({"userName": "a"}), json!({"userName": "a"}), vec![]),
            (json!({"userName": "a"}), json!({"userName": "b"}), vec!["userName"]),
            (json!({"userName": "a"}), json!({"userName": "a", "title": "x"}), vec!["title"]),
            (json!({"userName": "a", "title": "x"}), json!({"userName": "a"}), vec!["title"]),
            (json!({"active": true}), json!({"active": false}), vec!["active"]),
            (
                json!({"emails": [{"value": "a@x"}]}),
                json!({"emails": [{"value": "b@x"}]}),
                vec!["emails"],
            ),
            (
                json!({"name": {"givenName": "A"}}),
                json!({"name": {"givenName": "B"}}),
                vec!["name"],
            ),
        ];
        for (before, after, want) in cases {
            assert_eq!(changed_attributes(&before, &after), want, "{before} → {after}");
        }
    }

    #[test]
    fn bookkeeping_attributes_are_not_changes() {
        let before =
            json!({"schemas": ["a"], "id": "1", "meta": {"version": "1"}, "userName": "u"});
        let after =
            json!({"schemas": ["a", "b"], "id": "2", "meta": {"version": "2"}, "userName": "u"});
        assert!(changed_attributes(&before, &after).is_empty());
    }

    #[test]
    fn keys_match_without_regard_to_case() {
        let before = json!({"userName": "a", "displayName": "A"});
        let after = json!({"USERNAME": "a", "displayName": "B"});
        assert_eq!(changed_attributes(&before, &after), vec!["displayName"]);
    }

    #[test]
    fn extension_attributes_are_named_by_their_full_path() {
        let before = json!({ENTERPRISE: {"department": "Sales", "costCenter": "1"}});
        let after = json!({ENTERPRISE: {"department": "Ops", "costCenter": "1", "division": "D"}});
        assert_eq!(
            changed_attributes(&before, &after),
            vec![format!("{ENTERPRISE}:department"), format!("{ENTERPRISE}:division")]
        );
        let added = changed_attributes(&json!({}), &json!({ENTERPRISE: {"department": "Ops"}}));
        assert_eq!(added, vec![format!("{ENTERPRISE}:department")]);
        let removed = changed_attributes(&json!({ENTERPRISE: {"department": "Ops"}}), &json!({}));
        assert_eq!(removed, vec![format!("{ENTERPRISE}:department")]);
    }

    #[test]
    fn a_non_object_extension_is_reported_whole() {
        let before = json!({"urn:x:y": "odd"});
        let after = json!({"urn:x:y": "odder"});
        assert_eq!(changed_attributes(&before, &after), vec!["urn:x:y"]);
    }
}
