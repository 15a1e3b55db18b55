//! Grants (consents) for operators: list them and revoke one, which ends every refresh and access
//! token issued under it at once.

use serde::Serialize;

use super::AdminError;
use super::tenants;
use crate::audit::{self, Event, Kind};
use crate::clock::{Clock, to_rfc3339};
use crate::db::Database;
use crate::db::repo::oauth;

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

pub fn list(db: &Database, tenant_slug: Option<&str>) -> Result<Vec<GrantView>, AdminError> {
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

pub fn revoke(db: &Database, clock: &dyn Clock, grant_id: &str) -> Result<(), AdminError> {
    let now = clock.now();
    db.write(|conn| {
        let (grant, _) = oauth::find_grant(conn, grant_id)?
            .ok_or_else(|| AdminError::NotFound(format!("grant '{grant_id}'")))?;
        if oauth::revoke_grant(conn, grant_id, now, "revoked by an operator")? == 1 {
            let event = Event::new(Kind::GrantRevoked, "operator")
                .tenant(grant.tenant_id)
                .client(grant.client_id)
                .grant(grant.id)
                .detail("reason", "revoked by an operator");
            audit::record(conn, now, event)?;
        }
        Ok(())
    })
}
