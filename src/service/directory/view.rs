//! Resources as the vendor's application sees them: plain JSON in snake_case, the same in the
//! directory API and in every event's `data`, with the SCIM resource kept whole in `raw`.

use serde_json::{Map, Value, json};

use crate::clock::to_rfc3339;
use crate::db::repo::resources::ResourceRow;
use crate::scim::schema::{ENTERPRISE_USER_SCHEMA, Registry};

/// A group a user belongs to, or a group an event is about: its id and display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRef {
    pub id: String,
    pub name: String,
}

/// The stored attributes of a row (an object; anything else reads as no attributes).
pub fn stored(row: &ResourceRow) -> Map<String, Value> {
    match serde_json::from_str(&row.data) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// A user: identity, contact, status, groups, enterprise and custom attributes, bookkeeping.
pub fn user(row: &ResourceRow, groups: &[GroupRef], raw: Value) -> Value {
    let data = stored(row);
    let groups: Vec<Value> = groups.iter().map(|g| json!({"id": g.id, "name": g.name})).collect();
    json!({
        "id": row.id,
        "external_id": attribute(&data, "externalId"),
        "user_name": attribute(&data, "userName"),
        "display_name": attribute(&data, "displayName"),
        "name": name(attribute(&data, "name")),
        "emails": emails(attribute(&data, "emails")),
        "active": attribute(&data, "active").as_bool().unwrap_or(true),
        "groups": groups,
        "roles": held(&raw, "roles", false),
        "entitlements": held(&raw, "entitlements", true),
        "enterprise": enterprise(attribute(&data, ENTERPRISE_USER_SCHEMA)),
        "custom": custom(&data),
        "version": row.version,
        "created_at": to_rfc3339(row.created_at),
        "updated_at": to_rfc3339(row.updated_at),
        "raw": raw,
    })
}

/// A group: identity, custom attributes and bookkeeping (members are paged on their own).
pub fn group(row: &ResourceRow, raw: Value) -> Value {
    let data = stored(row);
    json!({
        "id": row.id,
        "external_id": attribute(&data, "externalId"),
        "name": attribute(&data, "displayName"),
        "custom": custom(&data),
        "version": row.version,
        "created_at": to_rfc3339(row.created_at),
        "updated_at": to_rfc3339(row.updated_at),
        "raw": raw,
    })
}

/// A member of a group: `type` is `user` or `group`.
pub fn member(id: &str, scim_type: &str, name: Option<&str>) -> Value {
    let kind = if scim_type.eq_ignore_ascii_case("group") { "group" } else { "user" };
    json!({"id": id, "type": kind, "name": name})
}

/// A role or entitlement as an event names it: an entitlement with its type's name.
pub fn catalog_ref(registry: &Registry, type_id: &str, id: &str, name: Option<&str>) -> Value {
    match registry.catalog_type(type_id).filter(|t| !t.is_role()) {
        Some(t) => json!({"type": t.name, "id": id, "name": name}),
        None => json!({"id": id, "name": name}),
    }
}

/// A user's roles or entitlements as its SCIM form holds them: `{id, name}`, with `type` for
/// entitlements.
fn held(raw: &Value, name: &str, typed: bool) -> Value {
    let Some(Value::Array(items)) = raw.get(name) else { return Value::Array(Vec::new()) };
    let held = items.iter().filter_map(|item| {
        let id = item.get("value").and_then(Value::as_str)?;
        let name = item.get("display").cloned().unwrap_or(Value::Null);
        Some(if typed {
            json!({"type": item.get("type").cloned().unwrap_or(Value::Null), "id": id, "name": name})
        } else {
            json!({"id": id, "name": name})
        })
    });
    Value::Array(held.collect())
}

/// A group as an event or a user's `groups` names it.
pub fn group_ref(group: &GroupRef) -> Value {
    json!({"id": group.id, "name": group.name})
}

/// An attribute by name, matched without regard to case as SCIM does; `null` when absent.
fn attribute<'a>(data: &'a Map<String, Value>, name: &str) -> &'a Value {
    data.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map_or(&Value::Null, |(_, v)| v)
}

/// Copies the named sub-attributes of a SCIM complex value under snake_case names.
fn renamed(value: &Value, names: &[(&str, &str)]) -> Value {
    let Value::Object(map) = value else { return Value::Null };
    let out: Map<String, Value> = names
        .iter()
        .map(|(scim, ours)| ((*ours).to_owned(), attribute(map, scim).clone()))
        .collect();
    Value::Object(out)
}

fn name(value: &Value) -> Value {
    renamed(
        value,
        &[
            ("formatted", "formatted"),
            ("givenName", "given_name"),
            ("familyName", "family_name"),
            ("middleName", "middle_name"),
            ("honorificPrefix", "honorific_prefix"),
            ("honorificSuffix", "honorific_suffix"),
        ],
    )
}

fn emails(value: &Value) -> Value {
    let Value::Array(items) = value else { return Value::Array(Vec::new()) };
    let emails = items.iter().map(|email| {
        let mut out =
            renamed(email, &[("value", "value"), ("type", "type"), ("primary", "primary")]);
        if let Some(primary) = out.get_mut("primary") {
            *primary = Value::Bool(primary.as_bool().unwrap_or(false));
        }
        out
    });
    Value::Array(emails.filter(|email| !email.is_null()).collect())
}

fn enterprise(value: &Value) -> Value {
    let mut out = renamed(
        value,
        &[
            ("employeeNumber", "employee_number"),
            ("costCenter", "cost_center"),
            ("organization", "organization"),
            ("division", "division"),
            ("department", "department"),
        ],
    );
    if let (Value::Object(out), Value::Object(scim)) = (&mut out, value) {
        let manager = attribute(scim, "manager");
        let manager = renamed(manager, &[("value", "id"), ("displayName", "name")]);
        out.insert("manager".into(), manager);
    }
    out
}

/// Extension attributes other than the enterprise user's, by schema URN, as stored.
fn custom(data: &Map<String, Value>) -> Value {
    let custom: Map<String, Value> = data
        .iter()
        .filter(|(key, _)| {
            key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
                && !key.eq_ignore_ascii_case(ENTERPRISE_USER_SCHEMA)
        })
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    Value::Object(custom)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn row(data: Value) -> ResourceRow {
        ResourceRow {
            id: "u1".into(),
            tenant_id: "t1".into(),
            created_at: 0,
            updated_at: 1_000,
            version: 3,
            data: data.to_string(),
        }
    }

    #[test]
    fn a_user_in_the_shape_applications_read() {
        let stored = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "ada@example.com",
            "externalId": "00u1",
            "displayName": "Ada",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"value": "ada@example.com", "type": "work", "primary": true}, {"value": "a@x"}],
            "active": false,
            ENTERPRISE_USER_SCHEMA: {"department": "R&D", "manager": {"value": "u0", "displayName": "Bo"}},
            "urn:example:params:scim:schemas:extension:app:2.0:User": {"badge": "7"},
        });
        let groups = [GroupRef { id: "g1".into(), name: "Eng".into() }];
        let view = user(&row(stored), &groups, json!({"raw": true}));
        assert_eq!(view["id"], "u1");
        assert_eq!(view["user_name"], "ada@example.com");
        assert_eq!(view["external_id"], "00u1");
        assert_eq!(view["name"]["given_name"], "Ada");
        assert_eq!(view["name"]["middle_name"], Value::Null);
        assert_eq!(
            view["emails"][0],
            json!({"value": "ada@example.com", "type": "work", "primary": true})
        );
        assert_eq!(view["emails"][1], json!({"value": "a@x", "type": null, "primary": false}));
        assert_eq!(view["active"], false);
        assert_eq!(view["groups"], json!([{"id": "g1", "name": "Eng"}]));
        assert_eq!(view["enterprise"]["department"], "R&D");
        assert_eq!(view["enterprise"]["manager"], json!({"id": "u0", "name": "Bo"}));
        assert_eq!(
            view["custom"]["urn:example:params:scim:schemas:extension:app:2.0:User"]["badge"],
            "7"
        );
        assert_eq!(view["version"], 3);
        assert_eq!(view["updated_at"], "1970-01-01T00:00:01.000Z");
        assert_eq!(view["raw"], json!({"raw": true}));
    }

    #[test]
    fn absent_attributes_are_null_or_empty_and_active_defaults_to_true() {
        let view = user(&row(json!({"userName": "u"})), &[], Value::Null);
        assert_eq!(view["external_id"], Value::Null);
        assert_eq!(view["name"], Value::Null);
        assert_eq!(view["emails"], json!([]));
        assert_eq!(view["enterprise"], Value::Null);
        assert_eq!(view["custom"], json!({}));
        assert_eq!(view["active"], true);
    }

    #[test]
    fn attribute_names_match_without_regard_to_case() {
        let view = user(&row(json!({"USERNAME": "u", "Active": false})), &[], Value::Null);
        assert_eq!(view["user_name"], "u");
        assert_eq!(view["active"], false);
    }

    #[test]
    fn a_group_and_its_members() {
        let view = group(&row(json!({"displayName": "Eng", "externalId": "x"})), Value::Null);
        assert_eq!(view["name"], "Eng");
        assert_eq!(view["external_id"], "x");
        assert_eq!(
            member("g2", "Group", Some("Ops")),
            json!({"id": "g2", "type": "group", "name": "Ops"})
        );
        assert_eq!(member("u2", "User", None), json!({"id": "u2", "type": "user", "name": null}));
    }

    #[test]
    fn a_corrupt_row_reads_as_no_attributes() {
        let mut bad = row(Value::Null);
        bad.data = "not json".into();
        assert_eq!(group(&bad, Value::Null)["name"], Value::Null);
    }
}
