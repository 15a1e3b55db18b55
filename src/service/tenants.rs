//! Tenants: create and list customer organisations.

use serde::Serialize;

use super::AdminError;
use crate::clock::{Clock, to_rfc3339};
use crate::db::repo::tenants;
use crate::db::rows::TenantRow;
use crate::db::{Database, DbConnection};

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
pub fn validate_slug(slug: &str) -> Result<(), AdminError> {
    let ok = (1..=63).contains(&slug.len())
        && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(AdminError::Invalid(format!(
            "invalid tenant slug '{slug}': use 1-63 lower-case letters, digits and inner hyphens"
        )))
    }
}

pub fn create(
    db: &Database,
    clock: &dyn Clock,
    slug: &str,
    name: Option<&str>,
) -> Result<TenantView, AdminError> {
    validate_slug(slug)?;
    let row = TenantRow {
        id: uuid::Uuid::now_v7().to_string(),
        slug: slug.to_owned(),
        name: name.unwrap_or(slug).trim().to_owned(),
        disabled: false,
        created_at: clock.now(),
    };
    db.write(|conn| {
        if tenants::find_by_slug(conn, slug)?.is_some() {
            return Err(AdminError::Conflict(format!("tenant '{slug}'")));
        }
        tenants::insert(conn, &row)?;
        let event = crate::audit::Event::new(crate::audit::Kind::TenantCreated, "operator")
            .tenant(row.id.clone())
            .detail("slug", slug);
        crate::audit::record(conn, row.created_at, event)?;
        Ok(())
    })?;
    Ok(row.into())
}

pub fn list(db: &Database) -> Result<Vec<TenantView>, AdminError> {
    let mut conn = db.conn()?;
    Ok(tenants::list(&mut conn)?.into_iter().map(TenantView::from).collect())
}

/// The tenant with this slug, or `NotFound`.
pub fn by_slug(db: &Database, slug: &str) -> Result<TenantRow, AdminError> {
    let mut conn = db.conn()?;
    tenants::find_by_slug(&mut conn, slug)?
        .ok_or_else(|| AdminError::NotFound(format!("tenant '{slug}'")))
}

/// The tenant named by an optional `--tenant` filter (`NotFound` when it does not exist).
pub fn optional_by_slug(
    conn: &mut DbConnection,
    slug: Option<&str>,
) -> Result<Option<TenantRow>, AdminError> {
    slug.map(|slug| {
        tenants::find_by_slug(conn, slug)?
            .ok_or_else(|| AdminError::NotFound(format!("tenant '{slug}'")))
    })
    .transpose()
}

/// Tenant slugs by id, for listings that show tenants by their slug.
pub fn slugs_by_id(
    conn: &mut DbConnection,
) -> Result<std::collections::HashMap<String, String>, AdminError> {
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
