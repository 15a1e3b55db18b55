//! The lineage rules applied to stored rows: what redeeming a code or presenting a refresh token
//! does to its grant (redeem, retry after a lost response, reuse revokes, rotation retires).
//! The decisions over a token's state are `crate::oauth::refresh`'s; this file reads and writes.

use crate::db::repo::oauth as repo;
use crate::db::rows::{CodeRow, GrantRow, RefreshTokenRow, TenantRow};
use crate::db::{DbConnection, StoreError};
use crate::oauth::refresh::{
    self as rules, Decision, RefreshPolicy, Sibling, Supersession, TokenState,
};
use crate::oauth::{pkce, secret};
use crate::service::oauth::grants;

/// Why a grant is revoked when one of its codes comes back.
pub const CODE_REUSED: &str = "authorization code reused";
/// Why a grant is revoked when a retired refresh token comes back.
pub const REFRESH_REUSED: &str = "refresh token reuse detected";

/// What the refresh rules need to know about a stored token.
pub fn token_state(row: &RefreshTokenRow, grant: &GrantRow, tenant: &TenantRow) -> TokenState {
    TokenState {
        created_at: row.created_at,
        used_at: row.used_at,
        retired_at: row.retired_at,
        grant_created_at: grant.created_at,
        grant_revoked: grant.revoked_at.is_some(),
        tenant_disabled: tenant.disabled,
    }
}

/// What presenting an authorization code did.
#[derive(Debug)]
pub enum CodeRedemption {
    /// First use, in time: the code is now used and its grant may be issued tokens.
    Redeemed {
        grant: GrantRow,
        code: CodeRow,
    },
    /// No such code (or its grant is gone).
    Unknown,
    /// The code belongs to another client; nothing changed.
    OtherClient {
        grant: GrantRow,
    },
    /// Used before, or by a concurrent request just now (RFC 6749 §4.1.2): the grant is revoked,
    /// by this presentation when `newly_revoked`.
    Reused {
        grant: GrantRow,
        newly_revoked: bool,
    },
    Expired {
        grant: GrantRow,
    },
    /// The request does not match the authorization request (`redirect_uri`, PKCE verifier):
    /// refused *before* the code is spent, so the client's corrected retry still works.
    Rejected {
        grant: GrantRow,
        reason: String,
    },
    /// The grant was revoked or its tenant disabled; the code is spent all the same.
    Inactive,
}

/// What the token request says about the authorization request its code came from.
#[derive(Debug, Clone, Copy)]
pub struct CodeRequest<'a> {
    pub redirect_uri: &'a str,
    pub code_verifier: Option<&'a str>,
}

/// Redeems `code` for `client_id`: at most once, before it expires, and only when `request`
/// matches the authorization request; a mismatch leaves the code unspent.
pub fn redeem_code(
    conn: &mut DbConnection,
    client_id: &str,
    code: &str,
    request: CodeRequest<'_>,
    now: i64,
) -> Result<CodeRedemption, StoreError> {
    let Some(row) = repo::find_code(conn, &secret::sha256_hex(code))? else {
        return Ok(CodeRedemption::Unknown);
    };
    let Some((grant, tenant)) = repo::find_grant(conn, &row.grant_id)? else {
        return Ok(CodeRedemption::Unknown);
    };
    if grant.client_id != client_id {
        return Ok(CodeRedemption::OtherClient { grant });
    }
    let reused = |conn: &mut DbConnection, grant: GrantRow| {
        let newly_revoked = grants::revoke_row(conn, &grant, now, CODE_REUSED)?;
        Ok::<_, StoreError>(CodeRedemption::Reused { grant, newly_revoked })
    };
    if row.used_at.is_some() {
        return reused(conn, grant);
    }
    if row.expires_at <= now {
        return Ok(CodeRedemption::Expired { grant });
    }
    if request.redirect_uri != row.redirect_uri {
        let reason = "redirect_uri differs from the authorization request's".to_owned();
        return Ok(CodeRedemption::Rejected { grant, reason });
    }
    if let Err(refusal) = pkce::verify(row.pkce.as_deref(), request.code_verifier) {
        return Ok(CodeRedemption::Rejected { grant, reason: refusal.to_string() });
    }
    // Conditional on being unused: of two concurrent redemptions, the second is a reuse.
    if repo::use_code(conn, &row.code_hash, now)? == 0 {
        return reused(conn, grant);
    }
    if grant.revoked_at.is_some() || tenant.disabled {
        return Ok(CodeRedemption::Inactive);
    }
    Ok(CodeRedemption::Redeemed { grant, code: row })
}

/// What presenting a refresh token did.
#[derive(Debug)]
pub enum RefreshPresentation {
    Unknown,
    /// The token belongs to another client; nothing changed.
    OtherClient {
        token: RefreshTokenRow,
        grant: GrantRow,
    },
    /// Usable: a child may be issued. `retry` when the token was used before and its child never
    /// was (a lost response, or a concurrent refresh). Usable until `expires_at`.
    Rotate {
        token: RefreshTokenRow,
        grant: GrantRow,
        retry: bool,
        expires_at: i64,
    },
    /// A retired token came back: two parties hold the family, so the grant is revoked, by this
    /// presentation when `newly_revoked`.
    Reused {
        token: RefreshTokenRow,
        grant: GrantRow,
        newly_revoked: bool,
    },
    /// Refused for `decision` (revoked grant, disabled tenant, expired); nothing changed.
    Refused {
        token: RefreshTokenRow,
        grant: GrantRow,
        decision: Decision,
    },
}

/// Applies the refresh rules to the token `presented` by `client_id`. Takes the grant's lock
/// first, so refreshes of one family run one at a time on every node.
pub fn present_refresh(
    conn: &mut DbConnection,
    client_id: &str,
    presented: &str,
    policy: RefreshPolicy,
    now: i64,
) -> Result<RefreshPresentation, StoreError> {
    let Some(found) = repo::find_refresh(conn, &secret::sha256_hex(presented))? else {
        return Ok(RefreshPresentation::Unknown);
    };
    repo::lock_grant(conn, &found.grant_id)?;
    // Re-read under the lock: a concurrent refresh may have used or retired it meanwhile.
    let token = repo::find_refresh_by_id(conn, &found.id)?
        .ok_or_else(|| StoreError::Invariant("refresh token vanished".into()))?;
    let (grant, tenant) = repo::find_grant(conn, &token.grant_id)?
        .ok_or_else(|| StoreError::Invariant("grant vanished".into()))?;
    if grant.client_id != client_id {
        return Ok(RefreshPresentation::OtherClient { token, grant });
    }
    match rules::decide(policy, token_state(&token, &grant, &tenant), now) {
        Decision::Rotate { retry } => {
            let expires_at = rules::expires_at(policy, token.created_at, grant.created_at);
            Ok(RefreshPresentation::Rotate { token, grant, retry, expires_at })
        }
        Decision::Reuse => {
            let newly_revoked = grants::revoke_row(conn, &grant, now, REFRESH_REUSED)?;
            Ok(RefreshPresentation::Reused { token, grant, newly_revoked })
        }
        decision => Ok(RefreshPresentation::Refused { token, grant, decision }),
    }
}

/// A refresh token just added to a family: the secret for the client, and its id.
#[derive(Debug)]
pub struct IssuedRefresh {
    pub secret: String,
    pub id: String,
}

/// Adds a token to the grant's family, as a child of `parent` (none for the code's first token),
/// remembering the access token `access_jti` minted with it.
pub fn issue_refresh(
    conn: &mut DbConnection,
    grant_id: &str,
    parent: Option<&str>,
    access_jti: Option<&str>,
    now: i64,
) -> Result<IssuedRefresh, StoreError> {
    let issued = IssuedRefresh {
        secret: secret::generate(secret::REFRESH_PREFIX),
        id: uuid::Uuid::now_v7().to_string(),
    };
    repo::insert_refresh(
        conn,
        &RefreshTokenRow {
            id: issued.id.clone(),
            token_hash: secret::sha256_hex(&issued.secret),
            grant_id: grant_id.to_owned(),
            parent_id: parent.map(str::to_owned),
            created_at: now,
            used_at: None,
            retired_at: None,
            access_jti: access_jti.map(str::to_owned),
        },
    )?;
    Ok(issued)
}

/// What exchanging a refresh token retired.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retirement {
    pub retired: usize,
    pub revoked_access_tokens: usize,
}

/// `used` has just been exchanged: it is marked used (keeping its first use) and the rest of its
/// live family is retired as `rules::supersede` says (unused tokens issued within the grace
/// window are kept); the access tokens of its own earlier unused children are revoked until they
/// would have expired (`access_ttl` after issue).
pub fn retire_superseded(
    conn: &mut DbConnection,
    used: &RefreshTokenRow,
    policy: RefreshPolicy,
    access_ttl: i64,
    now: i64,
) -> Result<Retirement, StoreError> {
    repo::mark_refresh_used(conn, &used.id, now)?;
    let mut retire = Vec::new();
    let mut revoke = Vec::new();
    for other in repo::live_family(conn, &used.grant_id)? {
        if other.id == used.id {
            continue;
        }
        let sibling = Sibling {
            parent_id: other.parent_id.as_deref(),
            created_at: other.created_at,
            used_at: other.used_at,
        };
        match rules::supersede(policy, &used.id, sibling, now) {
            Supersession::Keep => {}
            Supersession::Retire { revoke_access } => {
                if revoke_access {
                    revoke.extend(other.access_jti.clone().map(|jti| (jti, other.created_at)));
                }
                retire.push(other.id);
            }
        }
    }
    let retired = repo::retire_refresh(conn, &retire, now)?;
    for (jti, issued_at) in &revoke {
        let expires_at = issued_at.saturating_add(access_ttl);
        repo::revoke_access_token(conn, jti, &used.grant_id, expires_at, now)?;
    }
    Ok(Retirement { retired, revoked_access_tokens: revoke.len() })
}

#[cfg(test)]
mod tests {
    use crate::db::scratch::ScratchDatabase;
    use std::sync::Arc;

    use super::*;
    use crate::clock::{Clock, ManualClock};
    use crate::db::Database;
    use crate::db::repo::tenants;
    use crate::db::rows::ClientRow;

    const DAY: i64 = 86_400_000;
    const POLICY: RefreshPolicy =
        RefreshPolicy { idle_ttl: 90 * DAY, absolute_ttl: Some(365 * DAY), grace: 60_000 };
    const ACCESS_TTL: i64 = 3_600_000;
    const CLIENT: &str = "okta";
    const START: i64 = 1_800_000_000_000;

    /// A migrated database of its own (see `ScratchDatabase`) with one tenant, two clients and a
    /// grant.
    struct Fixture {
        db: Database,
        clock: Arc<ManualClock>,
        grant_id: String,
        _scratch: ScratchDatabase,
    }

    impl Fixture {
        fn new() -> Fixture {
            let scratch = ScratchDatabase::new("lineage", 1);
            let db = scratch.db.clone();
            let clock = ManualClock::new(START);
            let mut conn = db.conn().unwrap();
            let tenant = TenantRow {
                id: "t1".into(),
                slug: "acme".into(),
                name: "Acme".into(),
                disabled: false,
                created_at: START,
            };
            tenants::insert(&mut conn, &tenant).unwrap();
            for id in [CLIENT, "other"] {
                let client = ClientRow::authorization_code(
                    id.into(),
                    id.into(),
                    "[\"https://idp.test/cb\"]".into(),
                    START,
                );
                repo::insert_client(&mut conn, &client).unwrap();
            }
            let grant = GrantRow {
                id: "g1".into(),
                tenant_id: tenant.id,
                admin_id: None,
                client_id: CLIENT.into(),
                scope: "scim:read scim:write".into(),
                created_at: START,
                revoked_at: None,
                revoked_reason: None,
            };
            repo::insert_grant(&mut conn, &grant).unwrap();
            drop(conn);
            Fixture { db, clock, grant_id: grant.id, _scratch: scratch }
        }

        fn now(&self) -> i64 {
            self.clock.now()
        }

        fn conn(&self) -> crate::db::PooledConnection {
            self.db.conn().unwrap()
        }

        fn code(&self, code: &str, ttl: i64) {
            let row = CodeRow {
                code_hash: secret::sha256_hex(code),
                grant_id: self.grant_id.clone(),
                redirect_uri: "https://idp.test/cb".into(),
                pkce: None,
                created_at: self.now(),
                expires_at: self.now() + ttl,
                used_at: None,
            };
            repo::insert_code(&mut self.conn(), &row).unwrap();
        }

        fn redeem(&self, client: &str, code: &str) -> CodeRedemption {
            let request = CodeRequest { redirect_uri: "https://idp.test/cb", code_verifier: None };
            redeem_code(&mut self.conn(), client, code, request, self.now()).unwrap()
        }

        fn grant(&self) -> GrantRow {
            repo::find_grant(&mut self.conn(), &self.grant_id).unwrap().unwrap().0
        }

        fn issue(&self, parent: Option<&IssuedRefresh>) -> IssuedRefresh {
            let parent = parent.map(|p| p.id.as_str());
            let jti = uuid::Uuid::new_v4().to_string();
            issue_refresh(&mut self.conn(), &self.grant_id, parent, Some(&jti), self.now()).unwrap()
        }

        fn present(&self, token: &IssuedRefresh) -> RefreshPresentation {
            present_refresh(&mut self.conn(), CLIENT, &token.secret, POLICY, self.now()).unwrap()
        }

        /// A full refresh as the token endpoint does it: present, retire, issue a child.
        fn refresh(&self, token: &IssuedRefresh) -> IssuedRefresh {
            let RefreshPresentation::Rotate { token: row, .. } = self.present(token) else {
                panic!("{:?} should rotate", token.id);
            };
            retire_superseded(&mut self.conn(), &row, POLICY, ACCESS_TTL, self.now()).unwrap();
            self.issue(Some(token))
        }

        fn row(&self, token: &IssuedRefresh) -> RefreshTokenRow {
            repo::find_refresh_by_id(&mut self.conn(), &token.id).unwrap().unwrap()
        }
    }

    #[test]
    fn a_code_is_redeemed_once_and_its_reuse_revokes_the_grant() {
        let fx = Fixture::new();
        fx.code("c1", 60_000);
        assert!(matches!(fx.redeem(CLIENT, "nope"), CodeRedemption::Unknown));
        assert!(matches!(fx.redeem("other", "c1"), CodeRedemption::OtherClient { .. }));
        let CodeRedemption::Redeemed { code, .. } = fx.redeem(CLIENT, "c1") else {
            panic!("the first use redeems");
        };
        assert_eq!(code.grant_id, fx.grant_id);
        assert!(fx.grant().revoked_at.is_none());

        fx.clock.advance(1_000);
        let reused = fx.redeem(CLIENT, "c1");
        assert!(matches!(reused, CodeRedemption::Reused { newly_revoked: true, .. }), "{reused:?}");
        let grant = fx.grant();
        assert_eq!(grant.revoked_at, Some(fx.now()));
        assert_eq!(grant.revoked_reason.as_deref(), Some(CODE_REUSED));
        let again = fx.redeem(CLIENT, "c1");
        assert!(matches!(again, CodeRedemption::Reused { newly_revoked: false, .. }), "{again:?}");
    }

    #[test]
    fn a_mismatched_request_is_rejected_without_spending_the_code() {
        let fx = Fixture::new();
        fx.code("c1", 60_000);
        let wrong_uri = CodeRequest { redirect_uri: "https://idp.test/other", code_verifier: None };
        let rejected = redeem_code(&mut fx.conn(), CLIENT, "c1", wrong_uri, fx.now()).unwrap();
        assert!(matches!(rejected, CodeRedemption::Rejected { .. }), "{rejected:?}");
        let verifier = "a-verifier-of-at-least-forty-three-characters-0123456789";
        let downgrade =
            CodeRequest { redirect_uri: "https://idp.test/cb", code_verifier: Some(verifier) };
        let rejected = redeem_code(&mut fx.conn(), CLIENT, "c1", downgrade, fx.now()).unwrap();
        assert!(matches!(rejected, CodeRedemption::Rejected { .. }), "{rejected:?}");
        let stored = repo::find_code(&mut fx.conn(), &secret::sha256_hex("c1")).unwrap().unwrap();
        assert_eq!(stored.used_at, None, "not spent");
        assert!(matches!(fx.redeem(CLIENT, "c1"), CodeRedemption::Redeemed { .. }));
        assert!(fx.grant().revoked_at.is_none());
    }

    #[test]
    fn an_expired_code_is_refused_without_being_used() {
        let fx = Fixture::new();
        fx.code("c1", 60_000);
        fx.clock.advance(60_000);
        assert!(matches!(fx.redeem(CLIENT, "c1"), CodeRedemption::Expired { .. }));
        let stored = repo::find_code(&mut fx.conn(), &secret::sha256_hex("c1")).unwrap().unwrap();
        assert_eq!(stored.used_at, None);
        assert!(fx.grant().revoked_at.is_none(), "expiry alone revokes nothing");
    }

    #[test]
    fn a_code_of_a_revoked_grant_or_disabled_tenant_is_inactive() {
        let fx = Fixture::new();
        fx.code("c1", 60_000);
        tenants::set_disabled(&mut fx.conn(), "t1", true).unwrap();
        assert!(matches!(fx.redeem(CLIENT, "c1"), CodeRedemption::Inactive));
        let spent = repo::find_code(&mut fx.conn(), &secret::sha256_hex("c1")).unwrap().unwrap();
        assert_eq!(spent.used_at, Some(fx.now()));

        let fx = Fixture::new();
        fx.code("c2", 60_000);
        repo::revoke_grant(&mut fx.conn(), &fx.grant_id, fx.now(), "test").unwrap();
        assert!(matches!(fx.redeem(CLIENT, "c2"), CodeRedemption::Inactive));
    }

    #[test]
    fn rotation_retires_the_parent_once_its_child_is_used() {
        let fx = Fixture::new();
        let r0 = fx.issue(None);
        let first = fx.present(&r0);
        assert!(matches!(first, RefreshPresentation::Rotate { retry: false, .. }), "{first:?}");
        fx.clock.advance(1_000);
        let r1 = fx.refresh(&r0);
        assert_eq!(fx.row(&r0).used_at, Some(fx.now()));
        assert_eq!(fx.row(&r0).retired_at, None, "usable until its child is used");
        assert_eq!(fx.row(&r1).parent_id.as_deref(), Some(r0.id.as_str()));

        fx.clock.advance(1_000);
        let r2 = fx.refresh(&r1);
        assert_eq!(fx.row(&r0).retired_at, Some(fx.now()));
        assert_eq!(fx.row(&r1).retired_at, None);
        assert_eq!(fx.row(&r2).retired_at, None);
    }

    #[test]
    fn a_lost_response_can_be_retried_and_the_retry_retires_the_lost_child() {
        let fx = Fixture::new();
        let r0 = fx.issue(None);
        let lost = fx.refresh(&r0);
        fx.clock.advance(30 * DAY);
        let retried = fx.present(&r0);
        assert!(matches!(retried, RefreshPresentation::Rotate { retry: true, .. }), "{retried:?}");
        let kept = fx.refresh(&r0);
        // A retry after the grace window: the earlier unused child is superseded (its access
        // token expired long ago, so there is nothing to revoke).
        assert_eq!(fx.row(&lost).retired_at, Some(fx.now()));
        let lost_jti = fx.row(&lost).access_jti.unwrap();
        assert!(!repo::access_token_revoked(&mut fx.conn(), &lost_jti).unwrap());
        assert_eq!(fx.row(&r0).retired_at, None, "still retriable until its child is used");

        let used_at = fx.row(&r0).used_at;
        fx.clock.advance(1_000);
        let grandchild = fx.refresh(&kept);
        assert_eq!(fx.row(&r0).used_at, used_at, "the first use is kept");
        assert_eq!(fx.row(&r0).retired_at, Some(fx.now()));
        assert_eq!(fx.row(&kept).retired_at, None);
        assert_eq!(fx.row(&grandchild).retired_at, None);
        let kept_jti = fx.row(&kept).access_jti.unwrap();
        assert!(!repo::access_token_revoked(&mut fx.conn(), &kept_jti).unwrap());
    }

    #[test]
    fn a_replay_after_the_window_revokes_the_earlier_childs_access_token() {
        let fx = Fixture::new();
        let r0 = fx.issue(None);
        let first = fx.refresh(&r0);
        fx.clock.advance(30_000);
        let within = fx.refresh(&r0);
        assert_eq!(fx.row(&first).retired_at, None, "issued together: they coexist");
        fx.clock.advance(61_000);
        let _replayed = fx.refresh(&r0);
        for child in [&first, &within] {
            let row = fx.row(child);
            assert_eq!(row.retired_at, Some(fx.now()));
            let jti = row.access_jti.unwrap();
            assert!(repo::access_token_revoked(&mut fx.conn(), &jti).unwrap(), "{jti}");
        }
        // Whoever holds one of them is caught.
        let caught = fx.present(&first);
        assert!(matches!(caught, RefreshPresentation::Reused { newly_revoked: true, .. }));
    }

    #[test]
    fn siblings_issued_within_the_window_survive_each_others_use() {
        let fx = Fixture::new();
        let r0 = fx.issue(None);
        let a = fx.refresh(&r0);
        fx.clock.advance(5_000);
        let b = fx.refresh(&r0);
        fx.clock.advance(5_000);
        let _a2 = fx.refresh(&a);
        assert_eq!(fx.row(&b).retired_at, None, "issued 5 s before its sibling's use");
        assert_eq!(fx.row(&r0).retired_at, Some(fx.now()), "the used parent is superseded");
        // b, stored last by its thread, is used after the window: the family goes on from it.
        fx.clock.advance(120_000);
        let b2 = fx.refresh(&b);
        assert!(matches!(fx.present(&b2), RefreshPresentation::Rotate { retry: false, .. }));
        assert!(fx.grant().revoked_at.is_none());
    }

    #[test]
    fn a_retired_token_coming_back_revokes_the_grant() {
        let fx = Fixture::new();
        let r0 = fx.issue(None);
        let r1 = fx.refresh(&r0);
        let _r2 = fx.refresh(&r1);
        fx.clock.advance(1_000);
        let stolen = fx.present(&r0);
        assert!(
            matches!(stolen, RefreshPresentation::Reused { newly_revoked: true, .. }),
            "{stolen:?}"
        );
        assert_eq!(fx.grant().revoked_reason.as_deref(), Some(REFRESH_REUSED));
        // The family is dead: even the newest token is refused now.
        let after = fx.present(&r1);
        assert!(
            matches!(after, RefreshPresentation::Refused { decision: Decision::GrantRevoked, .. }),
            "{after:?}"
        );
    }

    #[test]
    fn refresh_tokens_expire_idle_and_absolute_and_stay_with_their_client() {
        let fx = Fixture::new();
        let r0 = fx.issue(None);
        let other = present_refresh(&mut fx.conn(), "other", &r0.secret, POLICY, fx.now()).unwrap();
        assert!(matches!(other, RefreshPresentation::OtherClient { .. }));
        let unknown = IssuedRefresh { secret: "scimd_rt_nope".into(), id: String::new() };
        assert!(matches!(fx.present(&unknown), RefreshPresentation::Unknown));
        let RefreshPresentation::Rotate { expires_at, .. } = fx.present(&r0) else {
            panic!("fresh tokens rotate");
        };
        assert_eq!(expires_at, START + 90 * DAY);

        fx.clock.advance(90 * DAY);
        let idle = fx.present(&r0);
        assert!(
            matches!(idle, RefreshPresentation::Refused { decision: Decision::IdleExpired, .. }),
            "{idle:?}"
        );
        // Kept in use, a family still ends at the absolute limit.
        let fx = Fixture::new();
        let mut token = fx.issue(None);
        for _ in 0..4 {
            fx.clock.advance(80 * DAY);
            token = fx.refresh(&token);
        }
        fx.clock.advance(50 * DAY);
        let end = fx.present(&token);
        assert!(
            matches!(end, RefreshPresentation::Refused { decision: Decision::AbsoluteExpired, .. }),
            "{end:?}"
        );
        assert!(fx.grant().revoked_at.is_none(), "expiry revokes nothing");
    }
}
