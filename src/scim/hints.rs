//! Schema facts the pure filter and PATCH engines need, behind a trait so they stay independent of
//! the schema registry; `CoreHints` is a small built-in table for the engines' unit tests.

use crate::scim::filter::AttrPath;

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

/// A fixed table of RFC 7643 facts for the engines' unit tests; the server uses the schema
/// registry (`schema_hints::SchemaHints`) instead.
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
