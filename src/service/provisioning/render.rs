//! Stored rows → SCIM resources: `id`, the computed attribute and `meta` around the stored JSON.

use serde_json::{Map, Value, json};

use crate::clock::to_rfc3339;
use crate::db::repo::resources::ResourceRow;
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

/// Builds `{schemas, id, …stored attributes…, <computed>, meta}` in that order; `computed` is
/// `None` when the projection leaves that attribute out.
pub(super) fn resource(
    base: &str,
    kind: ResourceKind,
    row: &ResourceRow,
    computed: Option<(&str, Value)>,
) -> ScimResult<Value> {
    let stored = stored_object(&row.data, &row.id)?;
    let mut out = Map::with_capacity(stored.len() + 4);
    if let Some(schemas) = stored.get("schemas") {
        out.insert("schemas".into(), schemas.clone());
    }
    out.insert("id".into(), Value::String(row.id.clone()));
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
            "resourceType": kind.name(),
            "created": to_rfc3339(row.created_at),
            "lastModified": to_rfc3339(row.updated_at),
            "location": format!("{base}{}/{}", kind.endpoint(), row.id),
            "version": etag(row.version),
        }),
    );
    Ok(Value::Object(out))
}
