//! What a recorded SCIM write changed, for the request inspector's detail page: the events the
//! write recorded in its own transaction (attributes changed, members added or removed, roles
//! granted), found by the resource it wrote and the version it left, so the page says what the
//! directory now holds differently, not only what was sent.

use serde_json::Value;

use crate::db::repo::events::{self, EventRow};
use crate::db::repo::request_log::RequestRow;
use crate::db::{Database, StoreError};

/// The resource a request wrote, and the version it left when the response says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub resource_id: String,
    pub version: Option<i64>,
}

/// One change, as the page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub event_type: String,
    pub summary: String,
}

/// What the page can say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changes {
    /// Not a successful write of one user or group (a read, a failure, Bulk).
    NotApplicable,
    /// The changes it recorded; empty for a write that changed nothing (a repeated PUT).
    Recorded(Vec<Change>),
}

/// The user or group a successful write of one resource wrote: from the path's id, or for a
/// POST the response's; the version from the response's `meta.version` (`W/"3"`).
pub fn target(
    method: &str,
    path: &str,
    status: i64,
    response_body: Option<&str>,
) -> Option<Target> {
    if !(200..300).contains(&status) || !matches!(method, "POST" | "PUT" | "PATCH" | "DELETE") {
        return None;
    }
    let path = path.split('?').next().unwrap_or(path);
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let at = segments
        .iter()
        .position(|s| s.eq_ignore_ascii_case("Users") || s.eq_ignore_ascii_case("Groups"))?;
    let response: Option<Value> = response_body.and_then(|b| serde_json::from_str(b).ok());
    let resource_id = match (method, segments.get(at + 1)) {
        ("POST", None) => response.as_ref()?.get("id")?.as_str()?.to_owned(),
        ("PUT" | "PATCH" | "DELETE", Some(id)) if segments.len() == at + 2 => (*id).to_owned(),
        _ => return None,
    };
    let version = response
        .as_ref()
        .and_then(|r| r.pointer("/meta/version"))
        .and_then(Value::as_str)
        .and_then(|v| v.trim_start_matches("W/").trim_matches('"').parse().ok());
    Some(Target { resource_id, version })
}

/// One line for an event: what it says changed.
pub fn summary(event_type: &str, data: &Value) -> String {
    let name = |v: Option<&Value>| -> String {
        let Some(v) = v else { return String::new() };
        let label = v.get("name").or_else(|| v.get("display")).and_then(Value::as_str);
        let id = v.get("id").and_then(Value::as_str).unwrap_or("");
        match label {
            Some(label) if !label.is_empty() => format!("{label} ({id})"),
            _ => id.to_owned(),
        }
    };
    let kind = event_type.rsplit('.').next().unwrap_or(event_type);
    match kind {
        "updated" => {
            let changed: Vec<&str> = data
                .get("changed_attributes")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if changed.is_empty() {
                "updated".into()
            } else {
                format!("changed {}", changed.join(", "))
            }
        }
        "member_added" => format!("added member {}", name(data.get("member"))),
        "member_removed" => format!("removed member {}", name(data.get("member"))),
        "role_granted" => format!("granted role {}", name(data.get("role"))),
        "role_revoked" => format!("revoked role {}", name(data.get("role"))),
        "entitlement_granted" => format!("granted entitlement {}", name(data.get("entitlement"))),
        "entitlement_revoked" => format!("revoked entitlement {}", name(data.get("entitlement"))),
        other => other.replace('_', " "),
    }
}

/// How long after the request's end its events may be stamped. They are never stamped before
/// its start (the node that served it wrote them, on the same clock), which keeps a repeated
/// write from showing the previous write's events of the same version.
const SLACK_MS: i64 = 1_000;

/// The changes a recorded request made, read from the event log.
pub fn of(db: &Database, row: &RequestRow) -> Result<Changes, StoreError> {
    let Some(target) = target(&row.method, &row.path, row.status, row.response_body.as_deref())
    else {
        return Ok(Changes::NotApplicable);
    };
    let from = row.at;
    let to = row.at + row.latency_ms + SLACK_MS;
    let found: Vec<EventRow> = db.read(|conn| {
        events::of_resource(conn, &row.tenant_id, &target.resource_id, target.version, from, to)
            .map_err(StoreError::from)
    })?;
    Ok(Changes::Recorded(
        found
            .iter()
            .map(|e| Change {
                event_type: e.event.event_type.clone(),
                summary: summary(
                    &e.event.event_type,
                    &serde_json::from_str(&e.event.data).unwrap_or(Value::Null),
                ),
            })
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn targets_are_single_resource_writes_that_succeeded() {
        let created = r#"{"id":"u1","meta":{"version":"W/\"1\""}}"#;
        assert_eq!(
            target("POST", "/scim/v2/Users", 201, Some(created)),
            Some(Target { resource_id: "u1".into(), version: Some(1) })
        );
        assert_eq!(
            target(
                "PATCH",
                "/scim/v2/Groups/g1?x=1",
                200,
                Some(r#"{"meta":{"version":"W/\"7\""}}"#)
            ),
            Some(Target { resource_id: "g1".into(), version: Some(7) })
        );
        assert_eq!(
            target("PATCH", "/scim/v2/groups/g1", 204, None),
            Some(Target { resource_id: "g1".into(), version: None })
        );
        assert_eq!(
            target("DELETE", "/scim/v2/Users/u1", 204, None),
            Some(Target { resource_id: "u1".into(), version: None })
        );
        assert_eq!(target("GET", "/scim/v2/Users/u1", 200, None), None);
        assert_eq!(target("PUT", "/scim/v2/Users/u1", 412, None), None);
        assert_eq!(target("POST", "/scim/v2/Bulk", 200, Some("{}")), None);
        assert_eq!(target("POST", "/scim/v2/Users/.search", 200, Some("{}")), None);
        assert_eq!(target("POST", "/scim/v2/Users", 201, Some("not json")), None);
    }

    #[test]
    fn summaries_say_what_changed() {
        let updated = json!({"changed_attributes": ["name.givenName", "emails"]});
        assert_eq!(summary("user.updated", &updated), "changed name.givenName, emails");
        let member = json!({"member": {"id": "u1", "name": "Jane Doe"}});
        assert_eq!(summary("group.member_added", &member), "added member Jane Doe (u1)");
        assert_eq!(
            summary("group.member_removed", &json!({"member": {"id": "u2"}})),
            "removed member u2"
        );
        assert_eq!(summary("user.deactivated", &json!({})), "deactivated");
        assert_eq!(summary("user.created", &json!({})), "created");
        let role = json!({"role": {"id": "admin", "name": "Administrator"}});
        assert_eq!(summary("user.role_granted", &role), "granted role Administrator (admin)");
    }
}
