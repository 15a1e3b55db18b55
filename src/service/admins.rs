//! Tenant admin accounts: the people who log in on the consent page and approve Okta's access
//! for their organisation. The tenant of a grant is always the consenting admin's tenant.

use serde::Serialize;

use super::OperatorError;
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
    pub disabled: bool,
}

/// A password made for someone else (a new or reset admin): shown once, to be changed.
#[derive(Debug, Serialize)]
pub struct IssuedPassword {
    pub admin: AdminView,
    pub password: String,
}

/// 24 random characters from an alphabet without look-alikes (about 139 bits).
pub fn generate_password() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..24).map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())])).collect()
}

/// The case-insensitive form emails are unique and looked up by.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// A new account's trimmed email and its password's argon2id hash, once both are acceptable.
/// Called before any transaction: argon2 is slow on purpose and must not hold the write lock.
pub(super) fn new_credentials<'e>(
    email: &'e str,
    password_text: &str,
) -> Result<(&'e str, String), OperatorError> {
    let email = email.trim();
    validate_email(email)?;
    if password_text.chars().count() < MIN_PASSWORD_LEN {
        return Err(OperatorError::Invalid(format!(
            "the password must have at least {MIN_PASSWORD_LEN} characters"
        )));
    }
    let password_hash =
        password::hash(password_text).map_err(|e| OperatorError::Invalid(e.to_string()))?;
    Ok((email, password_hash))
}

fn validate_email(email: &str) -> Result<(), OperatorError> {
    let ok = email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.chars().any(char::is_whitespace);
    if ok {
        Ok(())
    } else {
        Err(OperatorError::Invalid(format!("'{email}' is not an email address")))
    }
}

pub fn create(
    db: &Database,
    clock: &dyn Clock,
    tenant_slug: &str,
    email: &str,
    password_text: &str,
) -> Result<AdminView, OperatorError> {
    create_as(db, clock, "operator", tenant_slug, email, password_text)
}

/// `create` on behalf of `actor` (the console's signed-in operator).
pub fn create_as(
    db: &Database,
    clock: &dyn Clock,
    actor: &str,
    tenant_slug: &str,
    email: &str,
    password_text: &str,
) -> Result<AdminView, OperatorError> {
    let (email, password_hash) = new_credentials(email, password_text)?;
    let now = clock.now();
    db.write(|conn| {
        let tenant = tenants::find_by_slug(conn, tenant_slug)?
            .ok_or_else(|| OperatorError::NotFound(format!("tenant '{tenant_slug}'")))?;
        if admins::find_by_email(conn, &normalize_email(email))?.is_some() {
            return Err(OperatorError::Conflict(format!("admin '{email}'")));
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
        let event = Event::new(Kind::AdminCreated, actor)
            .tenant(tenant.id)
            .detail("admin_id", row.id.clone())
            .detail("email", email);
        audit::record(conn, db.audit_counts(), now, event)?;
        Ok(AdminView {
            id: row.id,
            tenant: tenant.slug,
            email: row.email,
            created: to_rfc3339(now),
            disabled: false,
        })
    })
}

/// Sets a new random password for one of a tenant's admins and signs them out everywhere.
pub fn reset_password(
    db: &Database,
    clock: &dyn Clock,
    actor: &str,
    tenant_id: &str,
    admin_id: &str,
) -> Result<IssuedPassword, OperatorError> {
    let password_text = generate_password();
    let password_hash =
        password::hash(&password_text).map_err(|e| OperatorError::Invalid(e.to_string()))?;
    let now = clock.now();
    let admin = db.write(|conn| {
        let row = tenant_admin(conn, tenant_id, admin_id)?;
        admins::set_password(conn, admin_id, &password_hash)?;
        admins::delete_sessions_of(conn, admin_id)?;
        let event = Event::new(Kind::AdminPasswordReset, actor)
            .tenant(tenant_id)
            .detail("admin_id", admin_id)
            .detail("email", row.email.clone());
        audit::record(conn, db.audit_counts(), now, event)?;
        Ok::<_, OperatorError>(row)
    })?;
    Ok(IssuedPassword { admin: view(admin, ""), password: password_text })
}

/// Disables (signing them out everywhere) or re-enables one of a tenant's admins.
pub fn set_disabled(
    db: &Database,
    clock: &dyn Clock,
    actor: &str,
    tenant_id: &str,
    admin_id: &str,
    disabled: bool,
) -> Result<(), OperatorError> {
    let now = clock.now();
    db.write(|conn| {
        let row = tenant_admin(conn, tenant_id, admin_id)?;
        if row.disabled == disabled {
            return Ok(());
        }
        admins::set_disabled(conn, admin_id, disabled)?;
        if disabled {
            admins::delete_sessions_of(conn, admin_id)?;
        }
        let kind = if disabled { Kind::AdminDisabled } else { Kind::AdminEnabled };
        let event = Event::new(kind, actor)
            .tenant(tenant_id)
            .detail("admin_id", admin_id)
            .detail("email", row.email);
        audit::record(conn, db.audit_counts(), now, event)?;
        Ok(())
    })
}

fn tenant_admin(
    conn: &mut crate::db::DbConnection,
    tenant_id: &str,
    admin_id: &str,
) -> Result<AdminAccountRow, OperatorError> {
    admins::find(conn, admin_id)?
        .filter(|row| row.tenant_id == tenant_id)
        .ok_or_else(|| OperatorError::NotFound(format!("admin '{admin_id}'")))
}

fn view(row: AdminAccountRow, tenant_slug: &str) -> AdminView {
    AdminView {
        id: row.id,
        tenant: tenant_slug.to_owned(),
        email: row.email,
        created: to_rfc3339(row.created_at),
        disabled: row.disabled,
    }
}

pub fn list(db: &Database, tenant_slug: &str) -> Result<Vec<AdminView>, OperatorError> {
    let mut conn = db.conn()?;
    let tenant = tenants::find_by_slug(&mut conn, tenant_slug)?
        .ok_or_else(|| OperatorError::NotFound(format!("tenant '{tenant_slug}'")))?;
    Ok(admins::list_for_tenant(&mut conn, &tenant.id)?
        .into_iter()
        .map(|row| view(row, &tenant.slug))
        .collect())
}
