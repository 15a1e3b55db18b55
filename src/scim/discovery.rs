//! The discovery documents of RFC 7644 §4: `/ServiceProviderConfig`, `/ResourceTypes` and
//! `/Schemas`, rendered per RFC 7643 §5–7 from the server's schema registry.

use serde_json::{Map, Value, json};

use super::schema::{AttrType, AttributeDef, Registry, ResourceKind, ResourceSchemas, SchemaDef};

pub const SERVICE_PROVIDER_CONFIG_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// Limits advertised for `/Bulk` (RFC 7643 §5 `bulk`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkLimits {
    pub max_operations: u32,
    pub max_payload_size: u64,
}

/// What this deployment supports; the config document is derived from it so it cannot drift
/// from what the handlers actually do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderCapabilities {
    pub patch: bool,
    /// `None` advertises bulk as unsupported.
    pub bulk: Option<BulkLimits>,
    /// Largest page a filtered query returns; 0 advertises filtering as unsupported.
    pub filter_max_results: u32,
    pub change_password: bool,
    pub sort: bool,
    pub etag: bool,
    pub documentation_uri: Option<String>,
}

/// The `/ServiceProviderConfig` document (RFC 7643 §5).
pub fn service_provider_config(base_url: &str, caps: &ProviderCapabilities) -> Value {
    let mut doc = Map::new();
    doc.insert("schemas".into(), json!([SERVICE_PROVIDER_CONFIG_SCHEMA]));
    if let Some(uri) = &caps.documentation_uri {
        doc.insert("documentationUri".into(), json!(uri));
    }
    doc.insert("patch".into(), json!({ "supported": caps.patch }));
    // maxOperations and maxPayloadSize are REQUIRED even when bulk is unsupported.
    let (max_operations, max_payload_size) =
        caps.bulk.map_or((0, 0), |b| (b.max_operations, b.max_payload_size));
    doc.insert(
        "bulk".into(),
        json!({
            "supported": caps.bulk.is_some(),
            "maxOperations": max_operations,
            "maxPayloadSize": max_payload_size,
        }),
    );
    doc.insert(
        "filter".into(),
        json!({ "supported": caps.filter_max_results > 0, "maxResults": caps.filter_max_results }),
    );
    doc.insert("changePassword".into(), json!({ "supported": caps.change_password }));
    doc.insert("sort".into(), json!({ "supported": caps.sort }));
    doc.insert("etag".into(), json!({ "supported": caps.etag }));
    let mut scheme = Map::new();
    scheme.insert("type".into(), json!("oauthbearertoken"));
    scheme.insert("name".into(), json!("OAuth Bearer Token"));
    scheme.insert(
        "description".into(),
        json!("Authentication scheme using the OAuth 2.0 Bearer Token standard"),
    );
    scheme.insert("specUri".into(), json!("https://www.rfc-editor.org/info/rfc6750"));
    if let Some(uri) = &caps.documentation_uri {
        scheme.insert("documentationUri".into(), json!(uri));
    }
    scheme.insert("primary".into(), json!(true));
    doc.insert("authenticationSchemes".into(), json!([scheme]));
    doc.insert(
        "meta".into(),
        meta("ServiceProviderConfig", format!("{base_url}/ServiceProviderConfig")),
    );
    Value::Object(doc)
}

/// Every `/ResourceTypes` entry (RFC 7643 §6): User, Group, then the catalog types.
pub fn resource_types(registry: &Registry, base_url: &str) -> Vec<Value> {
    described(registry).map(|t| render_resource_type(base_url, &t)).collect()
}

/// One resource type by its id, matched case-insensitively (`User`, `Group`, `Role`, …).
pub fn resource_type(registry: &Registry, base_url: &str, name: &str) -> Option<Value> {
    described(registry)
        .find(|t| t.id.eq_ignore_ascii_case(name))
        .map(|t| render_resource_type(base_url, &t))
}

/// What a ResourceType document says about a type.
struct Described {
    id: &'static str,
    endpoint: &'static str,
    description: &'static str,
    schemas: ResourceSchemas,
    name: &'static str,
}

fn described(registry: &Registry) -> impl Iterator<Item = Described> + '_ {
    let resources = ResourceKind::ALL.into_iter().map(|kind| Described {
        id: kind.name(),
        name: kind.name(),
        endpoint: kind.endpoint(),
        description: kind.description(),
        schemas: registry.resource(kind),
    });
    let catalog = registry.catalog().iter().map(|t| Described {
        id: t.id,
        name: t.name,
        endpoint: t.endpoint,
        description: t.description,
        schemas: t.schemas,
    });
    resources.chain(catalog)
}

/// Every `/Schemas` entry (RFC 7643 §7): User, EnterpriseUser, Group.
pub fn schemas(registry: &Registry, base_url: &str) -> Vec<Value> {
    registry.all().iter().map(|s| render_schema(base_url, s)).collect()
}

/// One schema by URN, matched case-insensitively.
pub fn schema(registry: &Registry, base_url: &str, id: &str) -> Option<Value> {
    registry.schema(id).map(|s| render_schema(base_url, s))
}

fn meta(resource_type: &str, location: String) -> Value {
    json!({ "resourceType": resource_type, "location": location })
}

fn render_resource_type(base_url: &str, t: &Described) -> Value {
    let mut doc = Map::new();
    doc.insert("schemas".into(), json!([RESOURCE_TYPE_SCHEMA]));
    doc.insert("id".into(), json!(t.id));
    doc.insert("name".into(), json!(t.name));
    doc.insert("endpoint".into(), json!(t.endpoint));
    doc.insert("description".into(), json!(t.description));
    doc.insert("schema".into(), json!(t.schemas.core().id));
    let extensions = t.schemas.extensions();
    // Omitted rather than empty for Group, as in the RFC 7643 §8.6 example.
    if !extensions.is_empty() {
        let list: Vec<Value> =
            extensions.iter().map(|s| json!({ "schema": s.id, "required": false })).collect();
        doc.insert("schemaExtensions".into(), Value::Array(list));
    }
    doc.insert("meta".into(), meta("ResourceType", format!("{base_url}/ResourceTypes/{}", t.id)));
    Value::Object(doc)
}

fn render_schema(base_url: &str, schema: &SchemaDef) -> Value {
    let mut doc = Map::new();
    doc.insert("schemas".into(), json!([SCHEMA_SCHEMA]));
    doc.insert("id".into(), json!(schema.id));
    doc.insert("name".into(), json!(schema.name));
    doc.insert("description".into(), json!(schema.description));
    doc.insert(
        "attributes".into(),
        Value::Array(schema.attributes.iter().map(render_attribute).collect()),
    );
    doc.insert("meta".into(), meta("Schema", format!("{base_url}/Schemas/{}", schema.id)));
    Value::Object(doc)
}

/// One attribute in RFC 7643 §7 form. Every characteristic is spelled out, defaults included,
/// because some clients do not apply the RFC defaults for missing ones.
fn render_attribute(attr: &AttributeDef) -> Value {
    let mut out = Map::new();
    out.insert("name".into(), json!(attr.name));
    out.insert("type".into(), json!(attr.kind.as_str()));
    out.insert("multiValued".into(), json!(attr.multi_valued));
    out.insert("description".into(), json!(attr.description));
    out.insert("required".into(), json!(attr.required));
    out.insert("caseExact".into(), json!(attr.case_exact));
    if !attr.canonical_values.is_empty() {
        out.insert("canonicalValues".into(), json!(attr.canonical_values));
    }
    out.insert("mutability".into(), json!(attr.mutability.as_str()));
    out.insert("returned".into(), json!(attr.returned.as_str()));
    out.insert("uniqueness".into(), json!(attr.uniqueness.as_str()));
    if attr.kind == AttrType::Reference {
        out.insert("referenceTypes".into(), json!(attr.reference_types));
    }
    if attr.kind == AttrType::Complex {
        out.insert(
            "subAttributes".into(),
            Value::Array(attr.sub_attributes.iter().map(render_attribute).collect()),
        );
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};

    const BASE: &str = "https://scim.example.com/scim/v2";

    fn caps() -> ProviderCapabilities {
        ProviderCapabilities {
            patch: true,
            bulk: None,
            filter_max_results: 200,
            change_password: false,
            sort: false,
            etag: true,
            documentation_uri: None,
        }
    }

    fn attribute<'a>(schema: &'a Value, path: &str) -> &'a Value {
        let mut current = &schema["attributes"];
        let mut found = &Value::Null;
        for part in path.split('.') {
            found = current
                .as_array()
                .and_then(|list| list.iter().find(|a| a["name"] == part))
                .unwrap_or_else(|| panic!("no attribute {path}"));
            current = &found["subAttributes"];
        }
        found
    }

    #[test]
    fn service_provider_config_shape() {
        let doc = service_provider_config(BASE, &caps());
        assert_eq!(doc["schemas"], json!([SERVICE_PROVIDER_CONFIG_SCHEMA]));
        assert_eq!(doc["patch"], json!({ "supported": true }));
        assert_eq!(
            doc["bulk"],
            json!({ "supported": false, "maxOperations": 0, "maxPayloadSize": 0 })
        );
        assert_eq!(doc["filter"], json!({ "supported": true, "maxResults": 200 }));
        assert_eq!(doc["changePassword"]["supported"], json!(false));
        assert_eq!(doc["sort"]["supported"], json!(false));
        assert_eq!(doc["etag"]["supported"], json!(true));
        assert!(doc.get("documentationUri").is_none());
        let schemes = doc["authenticationSchemes"].as_array().unwrap();
        assert_eq!(schemes.len(), 1);
        assert_eq!(schemes[0]["type"], "oauthbearertoken");
        assert_eq!(schemes[0]["primary"], true);
        for key in ["name", "description", "specUri"] {
            assert!(schemes[0][key].is_string(), "{key}");
        }
        assert_eq!(
            doc["meta"],
            json!({ "resourceType": "ServiceProviderConfig", "location": format!("{BASE}/ServiceProviderConfig") })
        );

        let full = ProviderCapabilities {
            bulk: Some(BulkLimits { max_operations: 100, max_payload_size: 1_048_576 }),
            filter_max_results: 0,
            documentation_uri: Some("https://docs.example.com/scim".into()),
            ..caps()
        };
        let doc = service_provider_config(BASE, &full);
        assert_eq!(
            doc["bulk"],
            json!({ "supported": true, "maxOperations": 100, "maxPayloadSize": 1_048_576 })
        );
        assert_eq!(doc["filter"]["supported"], json!(false));
        assert_eq!(doc["documentationUri"], "https://docs.example.com/scim");
        assert_eq!(
            doc["authenticationSchemes"][0]["documentationUri"],
            "https://docs.example.com/scim"
        );
    }

    #[test]
    fn resource_type_documents() {
        let all = resource_types(&Registry::builtin(), BASE);
        assert_eq!(all.len(), 2);
        let user = &all[0];
        assert_eq!(user["schemas"], json!([RESOURCE_TYPE_SCHEMA]));
        assert_eq!(user["id"], "User");
        assert_eq!(user["name"], "User");
        assert_eq!(user["endpoint"], "/Users");
        assert_eq!(user["schema"], USER_SCHEMA);
        assert_eq!(
            user["schemaExtensions"],
            json!([{ "schema": ENTERPRISE_USER_SCHEMA, "required": false }])
        );
        assert_eq!(user["meta"]["resourceType"], "ResourceType");
        assert_eq!(user["meta"]["location"], format!("{BASE}/ResourceTypes/User"));
        let group = &all[1];
        assert_eq!(group["endpoint"], "/Groups");
        assert_eq!(group["schema"], GROUP_SCHEMA);
        assert!(group.get("schemaExtensions").is_none());

        assert_eq!(resource_type(&Registry::builtin(), BASE, "user").as_ref(), Some(user));
        assert_eq!(resource_type(&Registry::builtin(), BASE, "GROUP").as_ref(), Some(group));
        assert_eq!(resource_type(&Registry::builtin(), BASE, "Users"), None);
    }

    #[test]
    fn schema_documents_list_every_attribute() {
        let all = schemas(&Registry::builtin(), BASE);
        let ids: Vec<&str> = all.iter().map(|s| s["id"].as_str().unwrap()).collect();
        assert_eq!(ids, [USER_SCHEMA, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA]);
        let names = |doc: &Value| -> Vec<String> {
            doc["attributes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["name"].as_str().unwrap().to_owned())
                .collect()
        };
        // RFC 7643 §8.7.1 order, which clients that render forms follow.
        assert_eq!(
            names(&all[0]).join(" "),
            "userName name displayName nickName profileUrl title userType preferredLanguage \
             locale timezone active password emails phoneNumbers ims photos addresses groups \
             entitlements roles x509Certificates"
        );
        assert_eq!(
            names(&all[1]),
            ["employeeNumber", "costCenter", "organization", "division", "department", "manager"]
        );
        assert_eq!(names(&all[2]), ["displayName", "members"]);
        for doc in &all {
            assert_eq!(doc["schemas"], json!([SCHEMA_SCHEMA]));
            assert_eq!(doc["meta"]["resourceType"], "Schema");
            assert_eq!(
                doc["meta"]["location"],
                format!("{BASE}/Schemas/{}", doc["id"].as_str().unwrap())
            );
            // Common attributes are defined by RFC 7643 §3.1, not by any schema.
            for common in ["id", "externalId", "meta"] {
                assert!(!names(doc).iter().any(|n| n == common), "{common}");
            }
        }
        assert_eq!(
            schema(&Registry::builtin(), BASE, &GROUP_SCHEMA.to_uppercase()).as_ref(),
            Some(&all[2])
        );
        assert_eq!(
            schema(&Registry::builtin(), BASE, "urn:ietf:params:scim:schemas:core:2.0:Nope"),
            None
        );
    }

    #[test]
    fn schema_attribute_characteristics() {
        let user = schema(&Registry::builtin(), BASE, USER_SCHEMA).unwrap();
        let group = schema(&Registry::builtin(), BASE, GROUP_SCHEMA).unwrap();
        let enterprise = schema(&Registry::builtin(), BASE, ENTERPRISE_USER_SCHEMA).unwrap();
        let cases: &[(&Value, &str, Value)] = &[
            (
                &user,
                "userName",
                json!({ "name": "userName", "type": "string", "multiValued": false,
                        "description": "Unique identifier the user signs in with.", "required": true,
                        "caseExact": false, "mutability": "readWrite", "returned": "default",
                        "uniqueness": "server" }),
            ),
            (
                &user,
                "password",
                json!({ "name": "password", "type": "string", "multiValued": false,
                        "description": "The user's cleartext password, only ever written.",
                        "required": false, "caseExact": false, "mutability": "writeOnly",
                        "returned": "never", "uniqueness": "none" }),
            ),
            (
                &user,
                "profileUrl",
                json!({ "name": "profileUrl", "type": "reference", "multiValued": false,
                        "description": "A URI to the user's online profile.", "required": false,
                        "caseExact": false, "mutability": "readWrite", "returned": "default",
                        "uniqueness": "none", "referenceTypes": ["external"] }),
            ),
            (
                &user,
                "emails.type",
                json!({ "name": "type", "type": "string", "multiValued": false,
                        "description": "The kind of address, e.g. 'work' or 'home'.",
                        "required": false, "caseExact": false,
                        "canonicalValues": ["work", "home", "other"], "mutability": "readWrite",
                        "returned": "default", "uniqueness": "none" }),
            ),
        ];
        for (doc, path, expected) in cases {
            assert_eq!(attribute(doc, path), expected, "{path}");
        }

        let check = |doc: &Value, path: &str, key: &str, expected: Value| {
            assert_eq!(attribute(doc, path)[key], expected, "{path}.{key}");
        };
        check(&user, "active", "type", json!("boolean"));
        check(&user, "emails", "multiValued", json!(true));
        check(&user, "emails", "type", json!("complex"));
        check(&user, "emails.primary", "type", json!("boolean"));
        check(&user, "name.givenName", "mutability", json!("readWrite"));
        check(&user, "groups", "mutability", json!("readOnly"));
        check(&user, "groups.$ref", "referenceTypes", json!(["User", "Group"]));
        check(&user, "groups.type", "canonicalValues", json!(["direct", "indirect"]));
        check(&user, "photos.value", "type", json!("reference"));
        check(&user, "x509Certificates.value", "type", json!("binary"));
        check(
            &user,
            "phoneNumbers.type",
            "canonicalValues",
            json!(["work", "home", "mobile", "fax", "pager", "other"]),
        );
        check(&group, "displayName", "required", json!(true));
        check(&group, "members", "multiValued", json!(true));
        check(&group, "members.value", "mutability", json!("immutable"));
        check(&group, "members.$ref", "mutability", json!("immutable"));
        check(&group, "members.display", "mutability", json!("readOnly"));
        check(&group, "members.type", "canonicalValues", json!(["User", "Group"]));
        check(&enterprise, "manager", "type", json!("complex"));
        check(&enterprise, "manager.$ref", "referenceTypes", json!(["User"]));
        check(&enterprise, "manager.displayName", "mutability", json!("readOnly"));
        check(&enterprise, "department", "type", json!("string"));
    }

    /// Every rendered attribute, at every depth, carries the full RFC 7643 §7 set of fields
    /// with well-formed values, and nothing else.
    #[test]
    fn every_rendered_attribute_is_well_formed() {
        fn walk(attrs: &Value, depth: usize, count: &mut usize) {
            for attr in attrs.as_array().unwrap() {
                *count += 1;
                let obj = attr.as_object().unwrap();
                let ty = attr["type"].as_str().unwrap();
                assert!(
                    [
                        "string",
                        "boolean",
                        "decimal",
                        "integer",
                        "dateTime",
                        "binary",
                        "reference",
                        "complex"
                    ]
                    .contains(&ty)
                );
                for key in ["multiValued", "required", "caseExact"] {
                    assert!(attr[key].is_boolean(), "{key} of {attr}");
                }
                assert!(attr["description"].as_str().is_some_and(|d| !d.is_empty()));
                assert!(
                    ["readOnly", "readWrite", "immutable", "writeOnly"]
                        .contains(&attr["mutability"].as_str().unwrap())
                );
                assert!(
                    ["always", "never", "default", "request"]
                        .contains(&attr["returned"].as_str().unwrap())
                );
                assert!(
                    ["none", "server", "global"].contains(&attr["uniqueness"].as_str().unwrap())
                );
                assert_eq!(obj.contains_key("referenceTypes"), ty == "reference", "{attr}");
                assert_eq!(obj.contains_key("subAttributes"), ty == "complex", "{attr}");
                for key in obj.keys() {
                    assert!(
                        [
                            "name",
                            "type",
                            "multiValued",
                            "description",
                            "required",
                            "caseExact",
                            "canonicalValues",
                            "mutability",
                            "returned",
                            "uniqueness",
                            "referenceTypes",
                            "subAttributes"
                        ]
                        .contains(&key.as_str()),
                        "{key}"
                    );
                }
                if ty == "complex" {
                    assert_eq!(depth, 0, "sub-attributes cannot be complex");
                    walk(&attr["subAttributes"], depth + 1, count);
                }
            }
        }
        let mut count = 0;
        for doc in schemas(&Registry::builtin(), BASE) {
            walk(&doc["attributes"], 0, &mut count);
        }
        // 21 User attributes + 46 of their sub-attributes, 6 + 3 enterprise, 2 + 4 Group.
        assert_eq!(count, 21 + 46 + 6 + 3 + 2 + 4);
    }

    #[test]
    fn catalog_types_are_resource_types_with_okta_schemas() {
        use crate::scim::catalog::{CatalogConfig, EntitlementTypeConfig};
        let catalog = CatalogConfig {
            roles: true,
            entitlement_types: vec![EntitlementTypeConfig {
                id: "PermissionSet".into(),
                name: "Permission set".into(),
                endpoint: "/PermissionSets".into(),
                description: "Sets of permissions".into(),
            }],
        };
        let registry = Registry::configured(&[], &catalog).unwrap();
        let all = resource_types(&registry, BASE);
        let ids: Vec<&str> = all.iter().map(|t| t["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["User", "Group", "Role", "PermissionSet"]);
        assert_eq!(all[2]["schema"], "urn:okta:scim:schemas:core:1.0:Role");
        assert_eq!(all[2]["endpoint"], "/Roles");
        let set = resource_type(&registry, BASE, "permissionset").unwrap();
        assert_eq!(set["name"], "Permission set");
        assert_eq!(set["schema"], "urn:okta:scim:schemas:core:1.0:Entitlement");
        assert_eq!(set["description"], "Sets of permissions");
        assert!(set.get("schemaExtensions").is_none());
        assert_eq!(set["meta"]["location"], format!("{BASE}/ResourceTypes/PermissionSet"));
        let role = schema(&registry, BASE, "urn:okta:scim:schemas:core:1.0:Role").unwrap();
        assert_eq!(attribute(&role, "displayName")["required"], true);
        let entitlement =
            schema(&registry, BASE, "urn:okta:scim:schemas:core:1.0:Entitlement").unwrap();
        assert_eq!(attribute(&entitlement, "type")["mutability"], "readOnly");
    }
}
