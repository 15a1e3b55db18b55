//! Tenants: create and list customer organisations.

use serde::Serialize;

use crate::audit::{self, Actor, Event, Kind};
use crate::clock::{Clock, to_rfc3339};
use crate::db::repo::tenants;
use crate::db::rows::TenantRow;
use crate::db::{Database, DbConnection};
use crate::service::OperatorError;
use crate::service::delivery::outbox::{self, EventType};

/// A tenant as operators see it.
#[derive(Debug, Clone, Serialize)]
pub struct TenantView {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub disabled: bool,
    pub created: String,
}

impl From<TenantRow> for TenantView {
    fn from(row: TenantRow) -> Self {
        TenantView {
            id: row.id,
            slug: row.slug,
            name: row.name,
            disabled: row.disabled,
            created: to_rfc3339(row.created_at),
        }
    }
}

/// Slugs appear in URLs and CLI arguments: lower-case letters, digits and inner hyphens.
pub fn validate_slug(slug: &str) -> Result<(), OperatorError> {
    let ok = (1..=63).contains(&slug.len())
        && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(OperatorError::Invalid(format!(
            "invalid tenant slug '{slug}': use 1-63 lower-case letters, digits and inner hyphens"
        )))
    }
}

/// Creates a tenant on behalf of `actor`.
pub fn create(
    db: &Database,
    clock: &dyn Clock,
    actor: &Actor,
    slug: &str,
    name: Option<&str>,
) -> Result<TenantView, OperatorError> {
    validate_slug(slug)?;
    let row = TenantRow {
        id: uuid::Uuid::now_v7().to_string(),
        slug: slug.to_owned(),
        name: name.map(str::trim).filter(|n| !n.is_empty()).unwrap_or(slug).to_owned(),
        disabled: false,
        created_at: clock.now(),
    };
    db.write(|conn| {
        if tenants::find_by_slug(conn, slug)?.is_some() {
            return Err(OperatorError::Conflict(format!("tenant '{slug}'")));
        }
        tenants::insert(conn, &row)?;
        let event =
            Event::new(Kind::TenantCreated, actor).tenant(row.id.clone()).detail("slug", slug);
        audit::record(conn, db.audit_counts(), row.created_at, event)?;
        outbox::tenant_changed(conn, &row, row.created_at, EventType::TenantCreated)?;
        Ok(())
    })?;
    Ok(row.into())
}

/// Renames a tenant (the display name; the slug in URLs stays).
pub fn rename(
    db: &Database,
    clock: &dyn Clock,
    actor: &Actor,
    slug: &str,
    name: &str,
) -> Result<TenantView, OperatorError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(OperatorError::Invalid("a tenant name must be 1-200 characters".into()));
    }
    let now = clock.now();
    db.write(|conn| {
        let mut row = tenants::find_by_slug(conn, slug)?
            .ok_or_else(|| OperatorError::NotFound(format!("tenant '{slug}'")))?;
        tenants::rename(conn, &row.id, name)?;
        let event = Event::new(Kind::TenantRenamed, actor)
            .tenant(row.id.clone())
            .detail("from", row.name.clone())
            .detail("to", name);
        audit::record(conn, db.audit_counts(), now, event)?;
        row.name = name.to_owned();
        Ok(row.into())
    })
}

/// Disables or re-enables a tenant. Disabled, every credential of the tenant (static tokens,
/// access and refresh tokens) is refused from the next request on by this node, and within
/// `credential_cache::FRESH_FOR` by every other. Its admins' sessions end, as when one admin is disabled, so enabling the
/// tenant again does not bring old browser sessions back to life.
pub fn set_disabled(
    db: &Database,
    clock: &dyn Clock,
    actor: &Actor,
    slug: &str,
    disabled: bool,
) -> Result<TenantView, OperatorError> {
    let now = clock.now();
    db.write(|conn| {
        let mut row = tenants::find_by_slug(conn, slug)?
            .ok_or_else(|| OperatorError::NotFound(format!("tenant '{slug}'")))?;
        if row.disabled != disabled {
            tenants::set_disabled(conn, &row.id, disabled)?;
            let signed_out = if disabled {
                crate::db::repo::sessions::delete_of_tenant(conn, &row.id)?
            } else {
                0
            };
            let kind = if disabled { Kind::TenantDisabled } else { Kind::TenantEnabled };
            audit::record(
                conn,
                db.audit_counts(),
                now,
                Event::new(kind, actor).tenant(row.id.clone()).detail("sessions_ended", signed_out),
            )?;
            row.disabled = disabled;
            let changed =
                if disabled { EventType::TenantDisabled } else { EventType::TenantEnabled };
            outbox::tenant_changed(conn, &row, now, changed)?;
        }
        Ok(row.into())
    })
}

pub fn list(db: &Database) -> Result<Vec<TenantView>, OperatorError> {
    let mut conn = db.conn()?;
    Ok(tenants::list(&mut conn)?.into_iter().map(TenantView::from).collect())
}

/// The tenant with this slug, or `NotFound`.
pub fn by_slug(db: &Database, slug: &str) -> Result<TenantRow, OperatorError> {
    let mut conn = db.conn()?;
    tenants::find_by_slug(&mut conn, slug)?
        .ok_or_else(|| OperatorError::NotFound(format!("tenant '{slug}'")))
}

/// The tenant named by an optional `--tenant` filter (`NotFound` when it does not exist).
pub fn optional_by_slug(
    conn: &mut DbConnection,
    slug: Option<&str>,
) -> Result<Option<TenantRow>, OperatorError> {
    slug.map(|slug| {
        tenants::find_by_slug(conn, slug)?
            .ok_or_else(|| OperatorError::NotFound(format!("tenant '{slug}'")))
    })
    .transpose()
}

/// Tenant slugs by id, for listings that show tenants by their slug.
pub fn slugs_by_id(
    conn: &mut DbConnection,
) -> Result<std::collections::HashMap<String, String>, OperatorError> {
    Ok(tenants::list(conn)?.into_iter().map(|t| (t.id, t.slug)).collect())
}

#[cfg(test)]
mod tests {
    use super::validate_slug;

    #[test]
    fn slugs() {
        for good in ["acme", "acme-inc", "a1", "x"] {
            assert!(validate_slug(good).is_ok(), "{good}");
        }
        for bad in ["", "Acme", "-acme", "acme-", "ac me", "acmé", &"a".repeat(64)] {
            assert!(validate_slug(bad).is_err(), "{bad}");
        }
    }
}
