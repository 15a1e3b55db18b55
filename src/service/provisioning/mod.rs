//! SCIM provisioning: one resource pipeline (`resources`) that every resource type plugs into
//! with a description of what is its own (`users`, `groups`), plus `/Bulk` on top of it.

pub mod admission;
mod assignments;
pub mod bulk;
pub mod credential_cache;
mod events;
mod groups;
pub mod list_hints;
mod members;
mod render;
mod resource_type;
pub mod resources;
pub use assignments::{lists_of_users, revoke_from_holders};
pub use render::raw_resource;
mod users;

use std::fmt;

use crate::clock::Clock;
use crate::db::Database;
use crate::scim::schema::{Registry, ResourceKind, ResourceSchemas};

/// A tenant's id (not its slug). A type of its own so a resource id cannot be passed for it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TenantId(String);

impl TenantId {
    pub fn new(id: impl Into<String>) -> TenantId {
        TenantId(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A SCIM resource's `id`, as the client sent it (unchecked: an unknown id is a 404, not an error).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourceId(String);

impl ResourceId {
    /// A fresh, time-ordered id for a new resource.
    pub fn generate() -> ResourceId {
        ResourceId(uuid::Uuid::now_v7().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for ResourceId {
    fn from(id: String) -> ResourceId {
        ResourceId(id)
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What every provisioning use case runs against: the caller's tenant, storage, time, the server's
/// schemas and the base URL (`https://host/scim/v2`) that `meta.location` and `$ref` values are
/// built from.
pub struct TenantContext<'a> {
    pub db: &'a Database,
    pub clock: &'a dyn Clock,
    pub schemas: &'a Registry,
    pub tenant: &'a TenantId,
    /// The tenant's slug, which its events carry.
    pub tenant_slug: &'a str,
    pub base: &'a str,
    /// `max_multi_values`: the most values one multi-valued attribute may hold.
    pub max_multi_values: usize,
    /// This node's shortcuts for paging through a whole tenant.
    pub list_hints: &'a list_hints::ListHints,
}

impl TenantContext<'_> {
    /// The schemas a resource of `kind` is validated, projected and filtered against.
    pub fn schemas_of(&self, kind: ResourceKind) -> ResourceSchemas {
        self.schemas.resource(kind)
    }
}
