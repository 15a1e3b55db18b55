//! Grants (consents) for operators: list them and revoke one, which ends every refresh and access
//! token issued under it at once.

use serde::Serialize;

use crate::audit::{self, Actor, Event, Kind};
use crate::clock::{Clock, to_rfc3339};
use crate::db::repo::accounts::{self, AccountTable};
use crate::db::repo::audit::{self as audit_repo, AuditFilter, Cursor};
use crate::db::repo::oauth;
use crate::db::rows::{GrantRow, RefreshTokenRow};
use crate::db::{Database, DbConnection};
use crate::service::OperatorError;
use crate::service::delivery::outbox::{self, Connection};
use crate::service::operations::audit_log::{self, AuditView};
use crate::service::tenancy::tenants;

#[derive(Debug, Serialize)]
pub struct GrantView {
    pub id: String,
    pub tenant: String,
    pub client_id: String,
    pub admin_id: Option<String>,
    pub scope: String,
    pub created: String,
    pub revoked: Option<String>,
    pub revoked_reason: Option<String>,
}

pub fn list(db: &Database, tenant_slug: Option<&str>) -> Result<Vec<GrantView>, OperatorError> {
    let mut conn = db.conn()?;
    let tenant = tenants::optional_by_slug(&mut conn, tenant_slug)?;
    let slugs = tenants::slugs_by_id(&mut conn)?;
    Ok(oauth::list_grants(&mut conn, tenant.as_ref().map(|t| t.id.as_str()))?
        .into_iter()
        .map(|g| GrantView {
            tenant: slugs.get(&g.tenant_id).cloned().unwrap_or(g.tenant_id),
            id: g.id,
            client_id: g.client_id,
            admin_id: g.admin_id,
            scope: g.scope,
            created: to_rfc3339(g.created_at),
            revoked: g.revoked_at.map(to_rfc3339),
            revoked_reason: g.revoked_reason,
        })
        .collect())
}

/// Revokes a grant on behalf of `actor` (an operator, or a tenant admin revoking their own
/// organisation's grant: then `tenant_id` scopes it and other tenants' grants are not found).
pub fn revoke(
    db: &Database,
    clock: &dyn Clock,
    actor: &Actor,
    tenant_id: Option<&str>,
    grant_id: &str,
    reason: &str,
) -> Result<(), OperatorError> {
    let now = clock.now();
    db.write(|conn| {
        let (grant, _) = oauth::find_grant(conn, grant_id)?
            .filter(|(g, _)| tenant_id.is_none_or(|t| t == g.tenant_id))
            .ok_or_else(|| OperatorError::NotFound(format!("grant '{grant_id}'")))?;
        if revoke_row(conn, &grant, now, reason)? {
            let event = Event::new(Kind::GrantRevoked, actor)
                .tenant(grant.tenant_id)
                .client(grant.client_id)
                .grant(grant.id)
                .detail("reason", reason);
            audit::record(conn, db.audit_counts(), now, event)?;
        }
        Ok(())
    })
}

/// Revokes a grant row unless it is revoked already; true when this call revoked it. The
/// tenant's `connection.revoked` event is written in the caller's transaction.
pub fn revoke_row(
    conn: &mut DbConnection,
    grant: &GrantRow,
    now: i64,
    reason: &str,
) -> diesel::QueryResult<bool> {
    if oauth::revoke_grant(conn, &grant.id, now, reason)? != 1 {
        return Ok(false);
    }
    let connection =
        Connection::Grant { id: &grant.id, client_id: &grant.client_id, scope: &grant.scope };
    outbox::connection_changed(conn, &grant.tenant_id, now, connection, Some(reason))?;
    Ok(true)
}

/// A grant as the console and the account page show it.
#[derive(Debug, Clone, Serialize)]
pub struct GrantSummary {
    pub id: String,
    pub client_id: String,
    pub client_name: String,
    pub admin_email: Option<String>,
    pub scope: String,
    pub created: String,
    /// When its refresh token was last exchanged.
    pub last_used: Option<String>,
    pub revoked: Option<String>,
    pub revoked_reason: Option<String>,
}

fn summarise(conn: &mut DbConnection, grant: GrantRow) -> Result<GrantSummary, OperatorError> {
    let client_name = oauth::find_client(conn, &grant.client_id)?
        .map_or_else(|| "(deleted client)".to_owned(), |c| c.name);
    let admin_email = match &grant.admin_id {
        Some(id) => accounts::find(conn, AccountTable::TenantAdmins, id)?.map(|a| a.email),
        None => None,
    };
    let last_used = oauth::last_refresh(conn, &grant.id)?.map(to_rfc3339);
    Ok(GrantSummary {
        id: grant.id,
        client_id: grant.client_id,
        client_name,
        admin_email,
        scope: grant.scope,
        created: to_rfc3339(grant.created_at),
        last_used,
        revoked: grant.revoked_at.map(to_rfc3339),
        revoked_reason: grant.revoked_reason,
    })
}

/// A tenant's grants, newest first.
pub fn for_tenant(db: &Database, tenant_id: &str) -> Result<Vec<GrantSummary>, OperatorError> {
    let mut conn = db.conn()?;
    let mut grants = oauth::list_grants(&mut conn, Some(tenant_id))?;
    grants.reverse();
    grants.into_iter().map(|g| summarise(&mut conn, g)).collect()
}

/// One refresh token of a grant's family, placed in the tree.
#[derive(Debug, Clone, Serialize)]
pub struct LineageNode {
    pub id: String,
    pub parent_id: Option<String>,
    pub depth: usize,
    pub created: String,
    pub used: Option<String>,
    pub retired: Option<String>,
    /// active, used, retired, revoked (with its grant).
    pub state: &'static str,
    /// The access token minted together with this refresh token (jti, expiry).
    pub access_jti: Option<String>,
    pub access_expires: Option<String>,
    /// It was presented again after its rotation and the retry was honoured (a lost response).
    pub retried: usize,
    /// It was presented after its family moved on: the grant was revoked for reuse.
    pub reuse_detected: bool,
}

/// Everything a security reviewer asks about one grant.
#[derive(Debug, Clone, Serialize)]
pub struct Lineage {
    pub tenant_id: String,
    pub tenant_slug: String,
    pub grant: GrantSummary,
    /// The consent that created the grant.
    pub consent: Option<AuditView>,
    /// The refresh-token family, depth first from the root.
    pub tokens: Vec<LineageNode>,
    /// Every audit event of the grant, oldest first.
    pub events: Vec<AuditView>,
}

/// At most this many events are shown for one grant (a family refreshed hourly for a year has
/// about 9 000).
const LINEAGE_EVENTS: i64 = 20_000;

pub fn lineage(db: &Database, grant_id: &str) -> Result<Lineage, OperatorError> {
    let mut conn = db.conn()?;
    let (grant, tenant) = oauth::find_grant(&mut conn, grant_id)?
        .ok_or_else(|| OperatorError::NotFound(format!("grant '{grant_id}'")))?;
    let family = oauth::family(&mut conn, grant_id)?;
    let filter = AuditFilter { grant_id: Some(grant_id.to_owned()), ..AuditFilter::default() };
    let rows = audit_repo::page(&mut conn, &filter, &Cursor::After(None), LINEAGE_EVENTS)?;
    let slugs = tenants::slugs_by_id(&mut conn)?;
    let events: Vec<AuditView> = rows.into_iter().map(|r| audit_log::view(r, &slugs)).collect();
    let revoked = grant.revoked_at.is_some();
    let summary = summarise(&mut conn, grant)?;
    Ok(Lineage {
        tenant_id: tenant.id,
        tenant_slug: tenant.slug,
        grant: summary,
        consent: events.iter().find(|e| e.event == Kind::ConsentGranted.as_str()).cloned(),
        tokens: family_tree(&family, &events, revoked),
        events,
    })
}

/// Orders a family depth first under its roots and annotates each token from the events
/// (indexed first: a long-lived family has thousands of tokens and events).
fn family_tree(
    family: &[RefreshTokenRow],
    events: &[AuditView],
    revoked: bool,
) -> Vec<LineageNode> {
    use std::collections::{HashMap, HashSet};
    let text =
        |e: &AuditView, key: &str| e.detail.get(key).and_then(|v| v.as_str()).map(str::to_owned);
    let mut minted: HashMap<String, &AuditView> = HashMap::new();
    let mut retried: HashMap<String, usize> = HashMap::new();
    let mut reused: HashSet<String> = HashSet::new();
    for e in events {
        if let Some(id) = text(e, "new_refresh_token_id") {
            minted.insert(id, e);
        }
        if let Some(id) = text(e, "refresh_token_id") {
            if e.event == Kind::RefreshRetried.as_str() {
                *retried.entry(id).or_default() += 1;
            } else if e.event == Kind::RefreshReuseDetected.as_str() {
                reused.insert(id);
            }
        }
    }
    let ids: HashSet<&str> = family.iter().map(|r| r.id.as_str()).collect();
    let mut children: HashMap<&str, Vec<&RefreshTokenRow>> = HashMap::new();
    let mut roots = Vec::new();
    for row in family {
        match row.parent_id.as_deref().filter(|p| ids.contains(p)) {
            Some(parent) => children.entry(parent).or_default().push(row),
            None => roots.push(row),
        }
    }
    let mut out = Vec::with_capacity(family.len());
    let mut stack: Vec<(&RefreshTokenRow, usize)> =
        roots.into_iter().rev().map(|r| (r, 0)).collect();
    while let Some((row, depth)) = stack.pop() {
        let access = minted.get(&row.id);
        let state = match (row.retired_at, row.used_at) {
            _ if revoked && row.retired_at.is_none() => "revoked",
            (Some(_), _) => "retired",
            (None, Some(_)) => "used",
            (None, None) => "active",
        };
        out.push(LineageNode {
            id: row.id.clone(),
            parent_id: row.parent_id.clone(),
            depth,
            created: to_rfc3339(row.created_at),
            used: row.used_at.map(to_rfc3339),
            retired: row.retired_at.map(to_rfc3339),
            state,
            access_jti: access.and_then(|e| text(e, "jti")),
            access_expires: access
                .and_then(|e| e.detail.get("access_expires_at").and_then(|v| v.as_i64()))
                .map(to_rfc3339),
            retried: retried.get(&row.id).copied().unwrap_or(0),
            reuse_detected: reused.contains(&row.id),
        });
        for child in children.get(row.id.as_str()).into_iter().flatten().rev() {
            stack.push((child, depth + 1));
        }
    }
    out
}
