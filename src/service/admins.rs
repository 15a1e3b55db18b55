//! Tenant admin accounts: the people who log in on the consent page and approve Okta's access
//! for their organisation. The tenant of a grant is always the consenting admin's tenant.

use serde::Serialize;

use super::AdminError;
use crate::audit::{self, Event, Kind};
use crate::clock::{Clock, to_rfc3339};
use crate::db::Database;
use crate::db::repo::{admins, tenants};
use crate::db::rows::AdminAccountRow;
use crate::oauth::password;

pub const MIN_PASSWORD_LEN: usize = 12;

#[derive(Debug, Serialize)]
pub struct AdminView {
    pub id: String,
    pub tenant: String,
    pub email: String,
    pub created: String,
}

/// The case-insensitive form emails are unique and looked up by.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

fn validate_email(email: &str) -> Result<(), AdminError> {
    let ok = email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.chars().any(char::is_whitespace);
    if ok { Ok(()) } else { Err(AdminError::Invalid(format!("'{email}' is not an email address"))) }
}

pub fn create(
    db: &Database,
    clock: &dyn Clock,
    tenant_slug: &str,
    email: &str,
    password_text: &str,
) -> Result<AdminView, AdminError> {
    let email = email.trim();
    validate_email(email)?;
    if password_text.chars().count() < MIN_PASSWORD_LEN {
        return Err(AdminError::Invalid(format!(
            "the password must have at least {MIN_PASSWORD_LEN} characters"
        )));
    }
    // Hash before the transaction: argon2 is slow on purpose and must not hold the write lock.
    let password_hash = password::hash(password_text).map_err(AdminError::Invalid)?;
    let now = clock.now();
    db.write(|conn| {
        let tenant = tenants::find_by_slug(conn, tenant_slug)?
            .ok_or_else(|| AdminError::NotFound(format!("tenant '{tenant_slug}'")))?;
        if admins::find_by_email(conn, &normalize_email(email))?.is_some() {
            return Err(AdminError::Conflict(format!("admin '{email}'")));
        }
        let row = AdminAccountRow {
            id: uuid::Uuid::now_v7().to_string(),
            tenant_id: tenant.id.clone(),
            email: email.to_owned(),
            email_ci: normalize_email(email),
            password_hash,
            disabled: false,
            created_at: now,
        };
        admins::insert(conn, &row)?;
        let event = Event::new(Kind::AdminCreated, "operator")
            .tenant(tenant.id)
            .detail("admin_id", row.id.clone())
            .detail("email", email);
        audit::record(conn, now, event)?;
        Ok(AdminView {
            id: row.id,
            tenant: tenant.slug,
            email: row.email,
            created: to_rfc3339(now),
        })
    })
}

pub fn list(db: &Database, tenant_slug: &str) -> Result<Vec<AdminView>, AdminError> {
    let mut conn = db.conn()?;
    let tenant = tenants::find_by_slug(&mut conn, tenant_slug)?
        .ok_or_else(|| AdminError::NotFound(format!("tenant '{tenant_slug}'")))?;
    Ok(admins::list_for_tenant(&mut conn, &tenant.id)?
        .into_iter()
        .map(|row| AdminView {
            id: row.id,
            tenant: tenant.slug.clone(),
            email: row.email,
            created: to_rfc3339(row.created_at),
        })
        .collect())
}
