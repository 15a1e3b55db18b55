//! What the event log says and how a write records it: each use case that changes the
//! directory calls `record` inside its own transaction, so an event exists exactly when its
//! change committed.

use serde_json::{Value, json};

use crate::db::DbConnection;
use crate::db::repo::events::{self, NewEventRow};
use crate::db::repo::tenants;
use crate::db::rows::TenantRow;

/// Every event type, as the feed, the webhooks and their filters name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    UserCreated,
    UserUpdated,
    UserDeactivated,
    UserReactivated,
    UserDeleted,
    UserRoleGranted,
    UserRoleRevoked,
    UserEntitlementGranted,
    UserEntitlementRevoked,
    GroupCreated,
    GroupUpdated,
    GroupDeleted,
    GroupMemberAdded,
    GroupMemberRemoved,
    ConnectionAuthorized,
    ConnectionRevoked,
    TenantCreated,
    TenantDisabled,
    TenantEnabled,
}

impl EventType {
    pub const ALL: [EventType; 19] = [
        EventType::UserCreated,
        EventType::UserUpdated,
        EventType::UserDeactivated,
        EventType::UserReactivated,
        EventType::UserDeleted,
        EventType::UserRoleGranted,
        EventType::UserRoleRevoked,
        EventType::UserEntitlementGranted,
        EventType::UserEntitlementRevoked,
        EventType::GroupCreated,
        EventType::GroupUpdated,
        EventType::GroupDeleted,
        EventType::GroupMemberAdded,
        EventType::GroupMemberRemoved,
        EventType::ConnectionAuthorized,
        EventType::ConnectionRevoked,
        EventType::TenantCreated,
        EventType::TenantDisabled,
        EventType::TenantEnabled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::UserCreated => "user.created",
            EventType::UserUpdated => "user.updated",
            EventType::UserDeactivated => "user.deactivated",
            EventType::UserReactivated => "user.reactivated",
            EventType::UserDeleted => "user.deleted",
            EventType::UserRoleGranted => "user.role_granted",
            EventType::UserRoleRevoked => "user.role_revoked",
            EventType::UserEntitlementGranted => "user.entitlement_granted",
            EventType::UserEntitlementRevoked => "user.entitlement_revoked",
            EventType::GroupCreated => "group.created",
            EventType::GroupUpdated => "group.updated",
            EventType::GroupDeleted => "group.deleted",
            EventType::GroupMemberAdded => "group.member_added",
            EventType::GroupMemberRemoved => "group.member_removed",
            EventType::ConnectionAuthorized => "connection.authorized",
            EventType::ConnectionRevoked => "connection.revoked",
            EventType::TenantCreated => "tenant.created",
            EventType::TenantDisabled => "tenant.disabled",
            EventType::TenantEnabled => "tenant.enabled",
        }
    }
}

/// A type filter such as `user.*,group.member_added` (empty: every type), parsed and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeFilter(Vec<EventType>);

impl TypeFilter {
    /// Every type.
    pub fn all() -> TypeFilter {
        TypeFilter(EventType::ALL.to_vec())
    }

    /// Comma-separated exact names or `prefix.*` patterns; an entry that names no type is an
    /// error (a typo must not silently subscribe to nothing).
    pub fn parse(text: &str) -> Result<TypeFilter, String> {
        let mut types = Vec::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let matching: Vec<EventType> = EventType::ALL
                .into_iter()
                .filter(|t| match entry.strip_suffix('*') {
                    Some(prefix) => t.as_str().starts_with(prefix),
                    None => t.as_str() == entry,
                })
                .collect();
            if matching.is_empty() || entry.len() > 64 {
                return Err(format!(
                    "'{}' names no event type",
                    entry.chars().take(64).collect::<String>()
                ));
            }
            for t in matching {
                if !types.contains(&t) {
                    types.push(t);
                }
            }
        }
        if types.is_empty() {
            return Ok(TypeFilter::all());
        }
        Ok(TypeFilter(types))
    }

    pub fn is_all(&self) -> bool {
        self.0.len() == EventType::ALL.len()
    }

    pub fn matches(&self, name: &str) -> bool {
        self.0.iter().any(|t| t.as_str() == name)
    }

    /// The exact names, for a query.
    pub fn names(&self) -> Vec<String> {
        self.0.iter().map(|t| t.as_str().to_owned()).collect()
    }
}

/// An event about to be recorded.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub event_type: EventType,
    /// The resource the event is about and its version after the change, when it has one.
    pub resource: Option<(String, i64)>,
    pub data: Value,
}

impl NewEvent {
    pub fn about(event_type: EventType, id: &str, version: i64, data: Value) -> NewEvent {
        NewEvent { event_type, resource: Some((id.to_owned(), version)), data }
    }
}

/// The tenant events are recorded for.
#[derive(Debug, Clone, Copy)]
pub struct EventTenant<'a> {
    pub id: &'a str,
    pub slug: &'a str,
}

/// Writes `events` in the caller's transaction, in order.
pub fn record(
    conn: &mut DbConnection,
    tenant: EventTenant<'_>,
    now: i64,
    events: Vec<NewEvent>,
) -> diesel::QueryResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let rows: Vec<NewEventRow> = events
        .into_iter()
        .map(|event| NewEventRow {
            id: format!("evt_{}", uuid::Uuid::now_v7().simple()),
            tenant_id: tenant.id.to_owned(),
            tenant_slug: tenant.slug.to_owned(),
            event_type: event.event_type.as_str().to_owned(),
            resource_id: event.resource.as_ref().map(|(id, _)| id.clone()),
            resource_version: event.resource.as_ref().map(|(_, v)| *v),
            occurred_at: now,
            data: event.data.to_string(),
        })
        .collect();
    events::insert(conn, &rows)
}

/// Records a tenant's own event (created, disabled, enabled) with the tenant as its data.
pub fn tenant_changed(
    conn: &mut DbConnection,
    tenant: &TenantRow,
    now: i64,
    event_type: EventType,
) -> diesel::QueryResult<()> {
    let data = json!({
        "id": tenant.id, "slug": tenant.slug, "name": tenant.name, "disabled": tenant.disabled,
    });
    let event = NewEvent { event_type, resource: None, data };
    record(conn, EventTenant { id: &tenant.id, slug: &tenant.slug }, now, vec![event])
}

/// A credential a connection event is about.
#[derive(Debug, Clone, Copy)]
pub enum Connection<'a> {
    /// An OAuth grant (a customer admin's consent, or a client's own).
    Grant { id: &'a str, client_id: &'a str, scope: &'a str },
    /// A static bearer token (Okta's "HTTP Header" mode).
    StaticToken { id: &'a str, label: &'a str },
}

/// Records `connection.authorized` (`reason` None) or `connection.revoked` for tenant
/// `tenant_id`'s credential.
pub fn connection_changed(
    conn: &mut DbConnection,
    tenant_id: &str,
    now: i64,
    connection: Connection<'_>,
    revoked: Option<&str>,
) -> diesel::QueryResult<()> {
    let Some(tenant) = tenants::find(conn, tenant_id)? else { return Ok(()) };
    let mut data = match connection {
        Connection::Grant { id, client_id, scope } => {
            json!({"kind": "oauth_grant", "id": id, "client_id": client_id, "scope": scope})
        }
        Connection::StaticToken { id, label } => {
            json!({"kind": "static_token", "id": id, "label": label})
        }
    };
    let event_type = match revoked {
        Some(reason) => {
            data["reason"] = json!(reason);
            EventType::ConnectionRevoked
        }
        None => EventType::ConnectionAuthorized,
    };
    let event = NewEvent { event_type, resource: None, data };
    record(conn, EventTenant { id: &tenant.id, slug: &tenant.slug }, now, vec![event])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_are_unique_and_dotted() {
        let names: std::collections::HashSet<_> =
            EventType::ALL.iter().map(|t| t.as_str()).collect();
        assert_eq!(names.len(), EventType::ALL.len());
        assert!(names.iter().all(|n| n.split('.').count() == 2));
    }

    #[test]
    fn filters_take_exact_names_and_prefix_patterns() {
        let filter = TypeFilter::parse("user.*, group.member_added").unwrap();
        assert!(filter.matches("user.created"));
        assert!(filter.matches("user.deleted"));
        assert!(filter.matches("group.member_added"));
        assert!(!filter.matches("group.member_removed"));
        assert!(!filter.matches("tenant.created"));
        assert!(filter.matches("user.role_granted"));
        assert_eq!(filter.names().len(), 10);
    }

    #[test]
    fn an_empty_filter_or_a_star_is_every_type() {
        assert!(TypeFilter::parse("").unwrap().is_all());
        assert!(TypeFilter::parse(" , ").unwrap().is_all());
        assert!(TypeFilter::parse("*").unwrap().is_all());
    }

    #[test]
    fn a_filter_entry_that_names_nothing_is_refused() {
        assert!(TypeFilter::parse("user.create").is_err());
        assert!(TypeFilter::parse("users.*").is_err());
        let long = "x".repeat(10_000);
        let err = TypeFilter::parse(&long).unwrap_err();
        assert!(err.len() < 100);
    }
}
