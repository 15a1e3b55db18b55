//! Schema facts the pure filter and PATCH engines need, behind a trait so they stay independent of
//! the schema registry: `SchemaHints` answers from a resource type's schemas, `CoreHints` is a
//! small built-in table for the engines' unit tests.

use crate::scim::filter::AttrPath;
use crate::scim::schema::{AttrType, AttributeDef, Mutability, ResourceSchemas};

/// What the pure engines need to know about an attribute; implemented by the schema registry.
///
/// Paths are always full: a sub-attribute of a multi-valued attribute is asked about as
/// `emails.primary`, never as a bare `primary`.
pub trait AttributeHints {
    fn case_exact(&self, path: &AttrPath) -> bool;
    fn is_multi_valued(&self, path: &AttrPath) -> bool;
    fn is_boolean(&self, path: &AttrPath) -> bool;
    fn is_read_only(&self, path: &AttrPath) -> bool; // id, meta, groups …
    fn is_immutable(&self, path: &AttrPath) -> bool;
}

/// [`AttributeHints`] for one resource kind, from its schemas (RFC 7643 characteristics).
#[derive(Debug, Clone, Copy)]
pub struct SchemaHints {
    schemas: ResourceSchemas,
}

impl SchemaHints {
    pub fn new(schemas: ResourceSchemas) -> Self {
        SchemaHints { schemas }
    }

    fn def(&self, path: &AttrPath) -> Option<&'static AttributeDef> {
        self.schemas.find_attribute(path.urn.as_deref(), &path.name, path.sub.as_deref())
    }

    fn parent(&self, path: &AttrPath) -> Option<&'static AttributeDef> {
        self.schemas.find_attribute(path.urn.as_deref(), &path.name, None)
    }
}

impl AttributeHints for SchemaHints {
    fn case_exact(&self, path: &AttrPath) -> bool {
        self.def(path).is_some_and(|d| d.case_exact)
    }

    fn is_multi_valued(&self, path: &AttrPath) -> bool {
        self.def(path).is_some_and(|d| d.multi_valued)
    }

    fn is_boolean(&self, path: &AttrPath) -> bool {
        self.def(path).is_some_and(|d| matches!(d.kind, AttrType::Boolean))
    }

    /// A sub-attribute of a read-only attribute is read-only too (`groups.value`, `meta.created`).
    fn is_read_only(&self, path: &AttrPath) -> bool {
        let read_only = |d: &AttributeDef| matches!(d.mutability, Mutability::ReadOnly);
        self.def(path).is_some_and(read_only)
            || (path.sub.is_some() && self.parent(path).is_some_and(read_only))
    }

    fn is_immutable(&self, path: &AttrPath) -> bool {
        self.def(path).is_some_and(|d| matches!(d.mutability, Mutability::Immutable))
    }
}

/// A fixed table of RFC 7643 facts for the engines' unit tests; the server uses the schema
/// registry (`SchemaHints`) instead.
#[cfg(test)]
mod core {
    use super::*;

    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    pub struct CoreHints;

    const MULTI_VALUED: &[&str] = &[
        "emails",
        "phoneNumbers",
        "ims",
        "photos",
        "addresses",
        "groups",
        "entitlements",
        "roles",
        "x509Certificates",
        "members",
    ];
    const CASE_EXACT_TOP: &[&str] = &["id", "externalId", "$ref"];
    const CASE_EXACT_META: &[&str] = &["version", "location"];
    const READ_ONLY: &[&str] = &["id", "meta", "groups"];

    fn one_of(name: &str, table: &[&str]) -> bool {
        table.iter().any(|t| t.eq_ignore_ascii_case(name))
    }

    fn sub_is(path: &AttrPath, name: &str) -> bool {
        path.sub.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(name))
    }

    impl AttributeHints for CoreHints {
        fn case_exact(&self, path: &AttrPath) -> bool {
            if sub_is(path, "$ref") {
                return true;
            }
            path.is_core()
                && match &path.sub {
                    None => one_of(&path.name, CASE_EXACT_TOP),
                    Some(sub) => {
                        path.name.eq_ignore_ascii_case("meta") && one_of(sub, CASE_EXACT_META)
                    }
                }
        }

        fn is_multi_valued(&self, path: &AttrPath) -> bool {
            path.is_core() && path.sub.is_none() && one_of(&path.name, MULTI_VALUED)
        }

        fn is_boolean(&self, path: &AttrPath) -> bool {
            // `primary` is boolean wherever it appears as a sub-attribute of a multi-valued attribute.
            sub_is(path, "primary")
                || (path.is_core()
                    && path.sub.is_none()
                    && path.name.eq_ignore_ascii_case("active"))
        }

        fn is_read_only(&self, path: &AttrPath) -> bool {
            path.is_core() && one_of(&path.name, READ_ONLY)
        }

        fn is_immutable(&self, _path: &AttrPath) -> bool {
            false
        }
    }
}
#[cfg(test)]
pub use core::CoreHints;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::{Registry, ResourceKind};

    #[test]
    fn answers_from_the_schemas() {
        let user = SchemaHints::new(Registry::builtin().resource(ResourceKind::User));
        assert!(user.is_multi_valued(&p(None, "emails", None)));
        assert!(!user.is_multi_valued(&p(None, "emails", Some("value"))));
        assert!(user.is_boolean(&p(None, "EMAILS", Some("primary"))));
        assert!(user.is_boolean(&p(None, "active", None)));
        assert!(user.case_exact(&p(None, "externalId", None)));
        assert!(!user.case_exact(&p(None, "userName", None)));
        assert!(user.is_read_only(&p(None, "groups", Some("value"))));
        assert!(user.is_read_only(&p(None, "meta", Some("created"))));
        assert!(user.is_read_only(&p(None, "id", None)));
        assert!(!user.is_read_only(&p(None, "userName", None)));
        let ext = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        assert!(user.is_read_only(&p(Some(ext), "manager", Some("displayName"))));
        assert!(!user.is_read_only(&p(Some(ext), "department", None)));
        let group = SchemaHints::new(Registry::builtin().resource(ResourceKind::Group));
        assert!(group.is_multi_valued(&p(None, "members", None)));
        assert!(group.is_immutable(&p(None, "members", Some("value"))));
    }

    fn p(urn: Option<&str>, name: &str, sub: Option<&str>) -> AttrPath {
        AttrPath { urn: urn.map(str::to_owned), name: name.to_owned(), sub: sub.map(str::to_owned) }
    }

    const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

    #[test]
    fn table() {
        let h = CoreHints;
        let cases: &[(AttrPath, [bool; 5])] = &[
            // [case_exact, multi, boolean, read_only, immutable]
            (p(None, "id", None), [true, false, false, true, false]),
            (p(Some(CORE), "ID", None), [true, false, false, true, false]),
            (p(None, "externalId", None), [true, false, false, false, false]),
            (p(None, "userName", None), [false, false, false, false, false]),
            (p(None, "emails", None), [false, true, false, false, false]),
            (p(None, "Emails", Some("value")), [false, false, false, false, false]),
            (p(None, "emails", Some("primary")), [false, false, true, false, false]),
            (p(None, "members", None), [false, true, false, false, false]),
            (p(None, "members", Some("$ref")), [true, false, false, false, false]),
            (p(None, "active", None), [false, false, true, false, false]),
            (p(None, "meta", Some("version")), [true, false, false, true, false]),
            (p(None, "meta", Some("lastModified")), [false, false, false, true, false]),
            (p(None, "groups", None), [false, true, false, true, false]),
            (p(Some(ENT), "id", None), [false, false, false, false, false]),
            (p(Some(ENT), "manager", Some("$ref")), [true, false, false, false, false]),
        ];
        for (path, [ce, mv, b, ro, im]) in cases {
            assert_eq!(h.case_exact(path), *ce, "case_exact {path}");
            assert_eq!(h.is_multi_valued(path), *mv, "multi {path}");
            assert_eq!(h.is_boolean(path), *b, "boolean {path}");
            assert_eq!(h.is_read_only(path), *ro, "read_only {path}");
            assert_eq!(h.is_immutable(path), *im, "immutable {path}");
        }
    }
}
