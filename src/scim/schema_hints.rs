//! The schema registry answering the pure engines' questions about attributes.

use super::filter::AttrPath;
use super::hints::AttributeHints;
use super::schema::{AttrType, AttributeDef, Mutability, ResourceSchemas};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::{Registry, ResourceKind};

    fn path(urn: Option<&str>, name: &str, sub: Option<&str>) -> AttrPath {
        AttrPath { urn: urn.map(str::to_owned), name: name.to_owned(), sub: sub.map(str::to_owned) }
    }

    #[test]
    fn answers_from_the_schemas() {
        let user = SchemaHints::new(Registry::builtin().resource(ResourceKind::User));
        assert!(user.is_multi_valued(&path(None, "emails", None)));
        assert!(!user.is_multi_valued(&path(None, "emails", Some("value"))));
        assert!(user.is_boolean(&path(None, "EMAILS", Some("primary"))));
        assert!(user.is_boolean(&path(None, "active", None)));
        assert!(user.case_exact(&path(None, "externalId", None)));
        assert!(!user.case_exact(&path(None, "userName", None)));
        assert!(user.is_read_only(&path(None, "groups", Some("value"))));
        assert!(user.is_read_only(&path(None, "meta", Some("created"))));
        assert!(user.is_read_only(&path(None, "id", None)));
        assert!(!user.is_read_only(&path(None, "userName", None)));
        let ext = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        assert!(user.is_read_only(&path(Some(ext), "manager", Some("displayName"))));
        assert!(!user.is_read_only(&path(Some(ext), "department", None)));
        let group = SchemaHints::new(Registry::builtin().resource(ResourceKind::Group));
        assert!(group.is_multi_valued(&path(None, "members", None)));
        assert!(group.is_immutable(&path(None, "members", Some("value"))));
    }
}
