//! Stored rows → SCIM resources: `id`, computed attributes and `meta` around the stored JSON.

use serde_json::{Map, Value, json};

use crate::clock::to_rfc3339;
use crate::db::repo::groups::Member;
use crate::db::rows::{GroupRow, UserRow};
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::schema::ResourceKind;
use crate::scim::version::etag;

fn stored_object(data: &str, id: &str) -> ScimResult<Map<String, Value>> {
    match serde_json::from_str(data) {
        Ok(Value::Object(map)) => Ok(map),
        _ => {
            tracing::error!(resource = id, "stored resource is not a JSON object");
            Err(ScimError::internal("stored resource is corrupt; see the server log"))
        }
    }
}

struct Meta<'a> {
    kind: ResourceKind,
    id: &'a str,
    created: i64,
    modified: i64,
    version: i64,
}

/// Builds `{schemas, id, …stored attributes…, <computed>, meta}` in that order.
fn assemble(
    base: &str,
    meta: Meta<'_>,
    stored: Map<String, Value>,
    computed: Option<(&str, Value)>,
) -> Value {
    let mut out = Map::with_capacity(stored.len() + 4);
    if let Some(schemas) = stored.get("schemas") {
        out.insert("schemas".into(), schemas.clone());
    }
    out.insert("id".into(), Value::String(meta.id.to_owned()));
    for (key, value) in stored {
        if key != "schemas" {
            out.insert(key, value);
        }
    }
    if let Some((key, value)) = computed {
        out.insert(key.into(), value);
    }
    out.insert(
        "meta".into(),
        json!({
            "resourceType": meta.kind.name(),
            "created": to_rfc3339(meta.created),
            "lastModified": to_rfc3339(meta.modified),
            "location": format!("{base}{}/{}", meta.kind.endpoint(), meta.id),
            "version": etag(meta.version),
        }),
    );
    Value::Object(out)
}

/// A user; `groups` is `None` when the projection leaves it out.
pub fn user(base: &str, row: &UserRow, groups: Option<&[(String, String)]>) -> ScimResult<Value> {
    let stored = stored_object(&row.data, &row.id)?;
    let groups = groups.map(|groups| {
        Value::Array(
            groups
                .iter()
                .map(|(id, display)| {
                    json!({"value": id, "$ref": format!("{base}/Groups/{id}"), "display": display, "type": "direct"})
                })
                .collect(),
        )
    });
    Ok(assemble(
        base,
        Meta {
            kind: ResourceKind::User,
            id: &row.id,
            created: row.created_at,
            modified: row.updated_at,
            version: row.version,
        },
        stored,
        groups.map(|g| ("groups", g)),
    ))
}

/// A group; `members` is `None` when the projection leaves it out (then no member row is read).
pub fn group(base: &str, row: &GroupRow, members: Option<&[&Member]>) -> ScimResult<Value> {
    let stored = stored_object(&row.data, &row.id)?;
    let members = members.map(|members| {
        Value::Array(
            members
                .iter()
                .map(|m| {
                    let endpoint = if m.member_type == "Group" { "Groups" } else { "Users" };
                    let mut entry = json!({
                        "value": m.member_id,
                        "$ref": format!("{base}/{endpoint}/{}", m.member_id),
                        "type": m.member_type,
                    });
                    if let (Some(display), Some(obj)) = (&m.display, entry.as_object_mut()) {
                        obj.insert("display".into(), Value::String(display.clone()));
                    }
                    entry
                })
                .collect(),
        )
    });
    Ok(assemble(
        base,
        Meta {
            kind: ResourceKind::Group,
            id: &row.id,
            created: row.created_at,
            modified: row.updated_at,
            version: row.version,
        },
        stored,
        members.map(|m| ("members", m)),
    ))
}
