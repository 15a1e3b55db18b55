//! Tenant admins: the customer's people who sign in on the consent page and approve Okta's
//! access for their organisation (the tenant of a grant is always the consenting admin's tenant),
//! and who see and revoke those grants at /account.

use serde::Serialize;

use super::sessions::{self, Minted};
use super::sign_in::{self, Attempt, LoginFailure, Opened};
use super::{NewSession, add, generate_password, hash_password, new_credentials};
use crate::audit::{self, Actor, Event, Kind};
use crate::clock::{Clock, to_rfc3339};
use crate::db::repo::accounts::{self, AccountTable};
use crate::db::repo::tenants;
use crate::db::rows::{AccountRow, TenantRow};
use crate::db::{Database, DbConnection, StoreError};
use crate::service::OperatorError;
use crate::service::verdict::Decided;

const TABLE: AccountTable = AccountTable::TenantAdmins;

#[derive(Debug, Serialize)]
pub struct TenantAdminView {
    pub id: String,
    pub tenant: String,
    pub email: String,
    pub created: String,
    pub disabled: bool,
}

/// A password made for someone else (a new or reset admin): shown once, to be changed.
#[derive(Debug, Serialize)]
pub struct IssuedPassword {
    pub admin: TenantAdminView,
    pub password: String,
}

/// A signed-in tenant admin, as the consent and account pages need them.
#[derive(Debug, Clone)]
pub struct TenantAdminSession {
    pub admin_id: String,
    pub email: String,
    pub tenant_id: String,
    pub tenant_slug: String,
    pub tenant_name: String,
    pub csrf_token: String,
}

super::signed_in!(TenantAdminSession, AccountTable::TenantAdmins, admin_id);

impl TenantAdminSession {
    /// How the audit trail names them.
    pub fn actor(&self) -> Actor {
        Actor::TenantAdmin(self.admin_id.clone())
    }

    fn new(admin: AccountRow, tenant: TenantRow, csrf_token: String) -> TenantAdminSession {
        TenantAdminSession {
            admin_id: admin.id,
            email: admin.email,
            tenant_id: tenant.id,
            tenant_slug: tenant.slug,
            tenant_name: tenant.name,
            csrf_token,
        }
    }
}

/// Creates a tenant admin on behalf of `actor`.
pub fn create(
    db: &Database,
    clock: &dyn Clock,
    actor: &Actor,
    tenant_slug: &str,
    email: &str,
    password_text: &str,
) -> Result<TenantAdminView, OperatorError> {
    let (email, password_hash) = new_credentials(email, password_text)?;
    let now = clock.now();
    db.write(|conn| {
        let tenant = tenants::find_by_slug(conn, tenant_slug)?
            .ok_or_else(|| OperatorError::NotFound(format!("tenant '{tenant_slug}'")))?;
        let row = add(conn, TABLE, Some(tenant.id.clone()), email, password_hash, now)?;
        let event = Event::new(Kind::TenantAdminCreated, actor)
            .tenant(tenant.id)
            .detail("admin_id", row.id.clone())
            .detail("email", email);
        audit::record(conn, db.audit_counts(), now, event)?;
        Ok(view(row, &tenant.slug))
    })
}

/// Sets a new random password for one of a tenant's admins and signs them out everywhere.
pub fn reset_password(
    db: &Database,
    clock: &dyn Clock,
    actor: &Actor,
    tenant_id: &str,
    admin_id: &str,
) -> Result<IssuedPassword, OperatorError> {
    let password_text = generate_password();
    let password_hash = hash_password(&password_text)?;
    let now = clock.now();
    let admin = db.write(|conn| {
        let row = of_tenant(conn, tenant_id, admin_id)?;
        accounts::set_password(conn, TABLE, admin_id, &password_hash)?;
        sessions::close_all(conn, TABLE, admin_id)?;
        let event = Event::new(Kind::TenantAdminPasswordReset, actor)
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
    actor: &Actor,
    tenant_id: &str,
    admin_id: &str,
    disabled: bool,
) -> Result<(), OperatorError> {
    let now = clock.now();
    db.write(|conn| {
        let row = of_tenant(conn, tenant_id, admin_id)?;
        if row.disabled == disabled {
            return Ok(());
        }
        accounts::set_disabled(conn, TABLE, admin_id, disabled)?;
        if disabled {
            sessions::close_all(conn, TABLE, admin_id)?;
        }
        let kind = if disabled { Kind::TenantAdminDisabled } else { Kind::TenantAdminEnabled };
        let event = Event::new(kind, actor)
            .tenant(tenant_id)
            .detail("admin_id", admin_id)
            .detail("email", row.email);
        audit::record(conn, db.audit_counts(), now, event)?;
        Ok(())
    })
}

/// The admin, if it belongs to this tenant (another tenant's admin is not found).
fn of_tenant(
    conn: &mut DbConnection,
    tenant_id: &str,
    admin_id: &str,
) -> Result<AccountRow, OperatorError> {
    accounts::find(conn, TABLE, admin_id)?
        .filter(|row| row.tenant_id.as_deref() == Some(tenant_id))
        .ok_or_else(|| OperatorError::NotFound(format!("admin '{admin_id}'")))
}

fn view(row: AccountRow, tenant_slug: &str) -> TenantAdminView {
    TenantAdminView {
        id: row.id,
        tenant: tenant_slug.to_owned(),
        email: row.email,
        created: to_rfc3339(row.created_at),
        disabled: row.disabled,
    }
}

pub fn list(db: &Database, tenant_slug: &str) -> Result<Vec<TenantAdminView>, OperatorError> {
    let mut conn = db.conn()?;
    let tenant = tenants::find_by_slug(&mut conn, tenant_slug)?
        .ok_or_else(|| OperatorError::NotFound(format!("tenant '{tenant_slug}'")))?;
    Ok(accounts::list_tenant_admins(&mut conn, &tenant.id)?
        .into_iter()
        .map(|row| view(row, &tenant.slug))
        .collect())
}

/// The admin's tenant; every tenant admin row names one (the column is NOT NULL).
fn tenant_of(conn: &mut DbConnection, admin: &AccountRow) -> Result<Option<TenantRow>, StoreError> {
    match admin.tenant_id.as_deref() {
        Some(tenant_id) => Ok(tenants::find(conn, tenant_id)?),
        None => Ok(None),
    }
}

/// Signs a tenant admin in on the consent or account pages.
pub fn login(
    db: &Database,
    clock: &dyn Clock,
    session_ttl_ms: i64,
    attempt: &Attempt<'_>,
) -> Decided<NewSession<TenantAdminSession>, LoginFailure> {
    let open = |conn: &mut DbConnection, admin: AccountRow, minted: &Minted| {
        let tenant = tenant_of(conn, &admin)?
            .ok_or_else(|| StoreError::Corrupt(format!("admin {} has no tenant", admin.id)))?;
        if tenant.disabled {
            // Refused before any session exists; the right password still clears nothing else.
            let event = Event::new(Kind::LoginFailed, &Actor::TenantAdmin(admin.id.clone()))
                .tenant(tenant.id.clone())
                .ip(attempt.ip.map(str::to_owned))
                .detail("email", admin.email.clone())
                .detail("reason", "tenant disabled");
            return Ok(Opened::Refused(LoginFailure::TenantDisabled, event));
        }
        let event = Event::new(Kind::LoginSucceeded, &Actor::TenantAdmin(admin.id.clone()))
            .tenant(tenant.id.clone())
            .ip(attempt.ip.map(str::to_owned))
            .detail("email", admin.email.clone());
        Ok(Opened::Session(
            TenantAdminSession::new(admin, tenant, minted.csrf_token.clone()),
            event,
        ))
    };
    sign_in::sign_in(db, clock, TABLE, session_ttl_ms, attempt, open)
}

/// The live session a cookie names, if any (expired sessions, disabled admins and disabled
/// tenants have none).
pub fn session(
    db: &Database,
    clock: &dyn Clock,
    cookie: &str,
) -> Result<Option<TenantAdminSession>, StoreError> {
    let mut conn = db.conn()?;
    let Some((row, admin)) = sessions::live(&mut conn, TABLE, cookie, clock.now())? else {
        return Ok(None);
    };
    let Some(tenant) = tenant_of(&mut conn, &admin)? else { return Ok(None) };
    if tenant.disabled {
        return Ok(None);
    }
    Ok(Some(TenantAdminSession::new(admin, tenant, row.csrf_token)))
}

/// Ends the session `cookie` names, if it is live.
pub fn logout(
    db: &Database,
    clock: &dyn Clock,
    cookie: &str,
    ip: Option<&str>,
) -> Result<(), StoreError> {
    match session(db, clock, cookie)? {
        Some(session) => sign_out(db, clock, &session, cookie, ip),
        None => Ok(()),
    }
}

/// Ends `session`, the one `cookie` names.
pub fn sign_out(
    db: &Database,
    clock: &dyn Clock,
    session: &TenantAdminSession,
    cookie: &str,
    ip: Option<&str>,
) -> Result<(), StoreError> {
    let event = Event::new(Kind::Logout, &session.actor())
        .tenant(session.tenant_id.clone())
        .ip(ip.map(str::to_owned));
    sign_in::sign_out(db, clock, TABLE, cookie, event)
}
