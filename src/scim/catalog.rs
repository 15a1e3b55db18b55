//! Okta's entitlement management: the Role type and the entitlement types a deployment declares
//! (`catalog_roles`, `[[entitlement_types]]`), checked at start-up, and the rules an item of the
//! catalog obeys. Which items exist is the vendor's app's business (`service::catalog`); the IdP
//! only reads them, and users carry them in `roles` and `entitlements`.

use serde::Deserialize;

use super::error::{ScimError, ScimResult};
use super::schema::{ENTITLEMENT, ROLE, ResourceKind, ResourceSchemas, SchemaDef};

/// The Role type's id, name and the `type_id` its items and assignments are stored under.
pub const ROLE_TYPE: &str = "Role";
/// Okta shows descriptions up to this many characters.
pub const DESCRIPTION_MAX: usize = 1000;
/// Longest item id and display name accepted (they are indexed and shown in lists).
pub const ID_MAX: usize = 256;
pub const DISPLAY_NAME_MAX: usize = 256;

/// Endpoints SCIM itself uses, which a catalog type cannot take.
const RESERVED_ENDPOINTS: &[&str] = &[
    "/Users",
    "/Groups",
    "/Roles",
    "/Bulk",
    "/Me",
    "/Schemas",
    "/ResourceTypes",
    "/ServiceProviderConfig",
    "/.search",
];

/// One `[[entitlement_types]]` table of the configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntitlementTypeConfig {
    /// The ResourceType id, which the catalog API names the type by (`License`).
    pub id: String,
    /// The ResourceType name: what Okta shows, and the `type` of the type's items and of users'
    /// `entitlements` values.
    pub name: String,
    /// Where the IdP reads the items, relative to the SCIM base (`/Licenses`).
    pub endpoint: String,
    #[serde(default)]
    pub description: String,
}

/// Which catalog types a server serves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatalogConfig {
    /// Serve Okta's Role type at `/Roles`.
    pub roles: bool,
    pub entitlement_types: Vec<EntitlementTypeConfig>,
}

/// A catalog type this server serves: its ResourceType and the schemas its items carry.
#[derive(Debug, Clone)]
pub struct CatalogType {
    pub id: &'static str,
    pub name: &'static str,
    pub endpoint: &'static str,
    pub description: &'static str,
    pub schemas: ResourceSchemas,
}

impl CatalogType {
    pub fn is_role(&self) -> bool {
        self.id == ROLE_TYPE
    }

    /// The user attribute that holds items of this type.
    pub fn user_attribute(&self) -> &'static str {
        if self.is_role() { "roles" } else { "entitlements" }
    }

    /// The core schema of its items (Okta's Role or Entitlement URN).
    pub fn core(&self) -> &'static SchemaDef {
        self.schemas.core()
    }

    pub(super) fn with_extensions(self, extensions: &'static [&'static SchemaDef]) -> CatalogType {
        CatalogType { schemas: ResourceSchemas::of(self.schemas.core(), extensions), ..self }
    }
}

fn leak(text: &str) -> &'static str {
    Box::leak(text.to_owned().into_boxed_str())
}

/// Checks the configured types: ids and names unique (and not a SCIM type's), endpoints of one
/// path segment that SCIM does not use. Read once at start-up, so the strings live for the
/// process, as configured schemas do.
pub(super) fn types(config: &CatalogConfig) -> Result<Vec<CatalogType>, String> {
    let mut types = Vec::new();
    if config.roles {
        types.push(CatalogType {
            id: ROLE_TYPE,
            name: ROLE_TYPE,
            endpoint: "/Roles",
            description: "Roles of the application",
            schemas: ResourceSchemas::of(&ROLE, &[]),
        });
    }
    for entry in &config.entitlement_types {
        let context = |e: &str| format!("entitlement type '{}': {e}", entry.id);
        if !valid_type_id(&entry.id) {
            return Err(context("id holds 1 to 64 letters, digits, '-' and '_'"));
        }
        if entry.name.trim().is_empty() || entry.name.len() > 128 {
            return Err(context("name must be 1 to 128 characters"));
        }
        let segment = entry.endpoint.strip_prefix('/').unwrap_or("");
        if !valid_type_id(segment) {
            return Err(context("endpoint is '/' and one path segment, e.g. /Licenses"));
        }
        if RESERVED_ENDPOINTS.iter().any(|r| r.eq_ignore_ascii_case(&entry.endpoint)) {
            return Err(context(&format!("endpoint {} is SCIM's own", entry.endpoint)));
        }
        let taken = |t: &CatalogType| {
            t.id.eq_ignore_ascii_case(&entry.id)
                || t.name.eq_ignore_ascii_case(&entry.name)
                || t.endpoint.eq_ignore_ascii_case(&entry.endpoint)
        };
        let scim_type = |name: &str| {
            ResourceKind::from_name(name).is_some() || name.eq_ignore_ascii_case(ROLE_TYPE)
        };
        if types.iter().any(taken) || scim_type(&entry.id) || scim_type(&entry.name) {
            return Err(context("id, name and endpoint must each be unique among resource types"));
        }
        if entry.description.chars().count() > DESCRIPTION_MAX {
            return Err(context("description is at most 1000 characters"));
        }
        types.push(CatalogType {
            id: leak(&entry.id),
            name: leak(&entry.name),
            endpoint: leak(&entry.endpoint),
            description: leak(&entry.description),
            schemas: ResourceSchemas::of(&ENTITLEMENT, &[]),
        });
    }
    Ok(types)
}

fn valid_type_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_alphabetic())
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Whether `id` may name a catalog item: the vendor's own string, 1 to 256 characters that need
/// no escaping in a URL path segment (RFC 3986 `pchar` without `%`).
pub fn valid_item_id(id: &str) -> bool {
    (1..=ID_MAX).contains(&id.len())
        && id.chars().all(|c| c.is_ascii_alphanumeric() || "-._~:@!$&'()*+,;=".contains(c))
}

/// Checks an item's display name and description, the attributes every catalog type has.
pub fn check_item_text(display_name: &str, description: Option<&str>) -> ScimResult<()> {
    if display_name.trim().is_empty() || display_name.chars().count() > DISPLAY_NAME_MAX {
        return Err(ScimError::invalid_value("displayName must be 1 to 256 characters"));
    }
    if description.is_some_and(|d| d.chars().count() > DESCRIPTION_MAX) {
        return Err(ScimError::invalid_value("description is at most 1000 characters"));
    }
    if display_name.contains(char::is_control) {
        return Err(ScimError::invalid_value("displayName cannot hold control characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn license(id: &str, name: &str, endpoint: &str) -> EntitlementTypeConfig {
        EntitlementTypeConfig {
            id: id.into(),
            name: name.into(),
            endpoint: endpoint.into(),
            description: String::new(),
        }
    }

    fn check(roles: bool, entries: Vec<EntitlementTypeConfig>) -> Result<Vec<CatalogType>, String> {
        types(&CatalogConfig { roles, entitlement_types: entries })
    }

    #[test]
    fn roles_come_first_then_the_configured_types() {
        let types = check(true, vec![license("License", "License", "/Licenses")]).unwrap();
        let ids: Vec<&str> = types.iter().map(|t| t.id).collect();
        assert_eq!(ids, ["Role", "License"]);
        assert_eq!((types[0].endpoint, types[0].user_attribute()), ("/Roles", "roles"));
        assert_eq!(types[1].user_attribute(), "entitlements");
        assert_eq!(types[1].core().id, "urn:okta:scim:schemas:core:1.0:Entitlement");
        assert!(check(false, Vec::new()).unwrap().is_empty());
    }

    #[test]
    fn bad_types_are_refused_with_a_reason() {
        let cases = [
            (vec![license("", "License", "/Licenses")], "id holds"),
            (vec![license("Lic ense", "License", "/Licenses")], "id holds"),
            (vec![license("License", " ", "/Licenses")], "name must be"),
            (vec![license("License", "License", "Licenses")], "endpoint is"),
            (vec![license("License", "License", "/a/b")], "endpoint is"),
            (vec![license("License", "License", "/users")], "SCIM's own"),
            (vec![license("License", "License", "/Roles")], "SCIM's own"),
            (vec![license("User", "Seat", "/Seats")], "unique"),
            (vec![license("Seat", "Role", "/Seats")], "unique"),
            (
                vec![license("License", "License", "/Licenses"), license("l2", "x", "/licenses")],
                "unique",
            ),
            (
                vec![license("License", "License", "/Licenses"), license("license", "y", "/Y")],
                "unique",
            ),
        ];
        for (entries, expected) in cases {
            let err = check(true, entries.clone()).err().unwrap_or_default();
            assert!(err.contains(expected), "{entries:?}: {err}");
        }
        let mut long = license("License", "License", "/Licenses");
        long.description = "x".repeat(1001);
        assert!(check(false, vec![long]).is_err());
    }

    #[test]
    fn item_ids_and_texts_are_bounded() {
        for good in ["admin", "role-1", "urn:acme:role:admin", "a.b_c~d", &"x".repeat(256)] {
            assert!(valid_item_id(good), "{good}");
        }
        for bad in ["", "a b", "a/b", "a%20", "a?b", "a#b", "é", &"x".repeat(257), "a\"b"] {
            assert!(!valid_item_id(bad), "{bad}");
        }
        assert!(check_item_text("Admin", Some(&"d".repeat(1000))).is_ok());
        assert!(check_item_text("Admin", Some(&"d".repeat(1001))).is_err());
        assert!(check_item_text("  ", None).is_err());
        assert!(check_item_text(&"n".repeat(257), None).is_err());
        assert!(check_item_text("a\u{0}b", None).is_err());
    }
}
