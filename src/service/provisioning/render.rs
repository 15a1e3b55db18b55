//! Stored rows → SCIM resources: `id`, the computed attribute and `meta` around the stored JSON.

use serde_json::{Map, Value, json};

use crate::clock::to_rfc3339;
use crate::db::repo::resources::ResourceRow;
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::schema::ResourceKind;
use crate::scim::version::etag;
use crate::service::directory::view::GroupRef;

fn stored_object(data: &str, id: &str) -> ScimResult<Map<String, Value>> {
    match serde_json::from_str(data) {
        Ok(Value::Object(map)) => Ok(map),
        _ => {
            tracing::error!(resource = id, "stored resource is not a JSON object");
            Err(ScimError::internal("stored resource is corrupt; see the server log"))
        }
    }
}

/// Builds `{schemas, id, …stored attributes…, <computed>, meta}` in that order; `computed` holds
/// the attributes read from rows that the projection keeps.
pub(super) fn resource(
    base: &str,
    kind: ResourceKind,
    row: &ResourceRow,
    computed: Vec<(&str, Value)>,
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
    for (key, value) in computed {
        // Replaces what an older version of the stored JSON may still hold under that name.
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

/// The SCIM form of a resource for the vendor's app (`raw` in the directory API and in events):
/// a user with the `groups` given and the catalog-backed lists `held` (`roles`,
/// `entitlements`), a group without its members (they are paged on their own).
pub fn raw_resource(
    base: &str,
    kind: ResourceKind,
    row: &ResourceRow,
    groups: &[GroupRef],
    held: Vec<(&str, Value)>,
) -> ScimResult<Value> {
    let computed = (!kind.has_members()).then(|| {
        let entries = groups.iter().map(|g| {
            let reference = format!("{base}/Groups/{}", g.id);
            json!({"value": g.id, "$ref": reference, "display": g.name, "type": "direct"})
        });
        ("groups", Value::Array(entries.collect()))
    });
    resource(base, kind, row, computed.into_iter().chain(held).collect())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn row(data: &str) -> ResourceRow {
        ResourceRow {
            id: "g1".into(),
            tenant_id: "t".into(),
            created_at: 0,
            updated_at: 1_000,
            version: 3,
            data: data.into(),
        }
    }

    #[test]
    fn schemas_and_id_first_then_attributes_the_computed_one_and_meta() {
        let stored =
            r#"{"displayName":"Eng","schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"]}"#;
        let members = json!([{"value": "u1"}]);
        let json = resource(
            "https://h/scim/v2",
            ResourceKind::Group,
            &row(stored),
            vec![("members", members)],
        )
        .unwrap();
        let keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["schemas", "id", "displayName", "members", "meta"]);
        assert_eq!(
            json["meta"],
            json!({
                "resourceType": "Group",
                "created": "1970-01-01T00:00:00.000Z",
                "lastModified": "1970-01-01T00:00:01.000Z",
                "location": "https://h/scim/v2/Groups/g1",
                "version": "W/\"3\"",
            })
        );
        let without =
            resource("https://h/scim/v2", ResourceKind::Group, &row(stored), Vec::new()).unwrap();
        assert!(without.get("members").is_none());
    }

    #[test]
    fn a_stored_body_that_is_not_an_object_is_an_internal_error() {
        for data in ["[]", "not json", "\"text\""] {
            let err = resource("b", ResourceKind::User, &row(data), Vec::new()).unwrap_err();
            assert_eq!(err.status, 500, "{data}");
        }
    }
}
