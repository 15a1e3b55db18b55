//! The refresh-token rules, as pure decisions over a token's state.
//!
//! Every refresh returns a child of the presented token. A token stays usable until one of its
//! children is itself used: then the token is *retired*, and so is every other token of the
//! family, except unused ones issued within the grace window (default 60 s): those may be held by
//! a concurrent refresher of the same client (several threads sharing one stored token, the last
//! writer winning), so siblings issued together coexist even after one of them was used.
//!
//! A used token whose children were never used may be presented again at any time (a lost
//! response: the retry gets a working pair, weeks later too). A retry after the window retires
//! the earlier unused children and revokes their access tokens, so replays cannot pile up live
//! pairs; whoever holds one of those children and presents it is then caught. A retired token
//! coming back means two parties hold the family: that is theft, and the whole grant is revoked.

/// Lifetimes in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshPolicy {
    /// A token unused for this long expires.
    pub idle_ttl: i64,
    /// The grant's refresh tokens all expire this long after consent, if set.
    pub absolute_ttl: Option<i64>,
    /// Unused tokens issued less than this long ago survive another token's use.
    pub grace: i64,
}

/// Another live token of the family, when one is used.
#[derive(Debug, Clone, Copy)]
pub struct Sibling<'a> {
    pub parent_id: Option<&'a str>,
    pub created_at: i64,
    pub used_at: Option<i64>,
}

/// What using a token does to another live token of its family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Supersession {
    /// Unused and issued within the grace window: a concurrent refresher may hold it.
    Keep,
    /// Superseded. `revoke_access`: it is an unused child of the token being retried, whose pair
    /// was lost or is in someone else's hands, so its access token goes too.
    Retire { revoke_access: bool },
}

/// The fate of `other` when the token `used_id` is used at `now`.
pub fn supersede(
    policy: RefreshPolicy,
    used_id: &str,
    other: Sibling<'_>,
    now: i64,
) -> Supersession {
    let unused = other.used_at.is_none();
    if unused && now < other.created_at.saturating_add(policy.grace) {
        return Supersession::Keep;
    }
    Supersession::Retire { revoke_access: unused && other.parent_id == Some(used_id) }
}

/// What the store knows about the presented token and its grant.
#[derive(Debug, Clone, Copy)]
pub struct TokenState {
    pub created_at: i64,
    pub used_at: Option<i64>,
    pub retired_at: Option<i64>,
    pub grant_created_at: i64,
    pub grant_revoked: bool,
    pub tenant_disabled: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Issue a child. `retry` when this token already produced a child that was never used (a
    /// lost response or a concurrent refresh).
    Rotate {
        retry: bool,
    },
    /// A retired token came back: revoke the grant.
    Reuse,
    GrantRevoked,
    TenantDisabled,
    IdleExpired,
    AbsoluteExpired,
}

impl Decision {
    /// The `error_description` sent with `invalid_grant`.
    pub fn description(self) -> &'static str {
        match self {
            Decision::Rotate { .. } => "ok",
            Decision::Reuse => {
                "refresh token reuse detected: this token was superseded by a newer one that has been \
                 used; the grant is revoked and a tenant admin must authorize again"
            }
            Decision::GrantRevoked => "the grant behind this refresh token has been revoked",
            Decision::TenantDisabled => "the tenant of this grant is disabled",
            Decision::IdleExpired => "the refresh token expired after being unused for too long",
            Decision::AbsoluteExpired => "the grant reached its maximum lifetime; authorize again",
        }
    }
}

/// Until when (ms) a token in this state stays usable, if nothing else happens.
pub fn expires_at(policy: RefreshPolicy, created_at: i64, grant_created_at: i64) -> i64 {
    let idle = created_at.saturating_add(policy.idle_ttl);
    match policy.absolute_ttl {
        Some(abs) => idle.min(grant_created_at.saturating_add(abs)),
        None => idle,
    }
}

pub fn decide(policy: RefreshPolicy, token: TokenState, now: i64) -> Decision {
    if token.grant_revoked {
        return Decision::GrantRevoked;
    }
    if token.retired_at.is_some() {
        return Decision::Reuse;
    }
    if token.tenant_disabled {
        return Decision::TenantDisabled;
    }
    if policy.absolute_ttl.is_some_and(|abs| now >= token.grant_created_at.saturating_add(abs)) {
        return Decision::AbsoluteExpired;
    }
    if now >= token.created_at.saturating_add(policy.idle_ttl) {
        return Decision::IdleExpired;
    }
    Decision::Rotate { retry: token.used_at.is_some() }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;
    const POLICY: RefreshPolicy =
        RefreshPolicy { idle_ttl: 90 * DAY, absolute_ttl: None, grace: 60_000 };

    fn fresh() -> TokenState {
        TokenState {
            created_at: 1_000,
            used_at: None,
            retired_at: None,
            grant_created_at: 1_000,
            grant_revoked: false,
            tenant_disabled: false,
        }
    }

    #[test]
    fn decision_table() {
        let cases: Vec<(&str, RefreshPolicy, TokenState, i64, Decision)> = vec![
            ("first use", POLICY, fresh(), 2_000, Decision::Rotate { retry: false }),
            (
                "retry after a lost response, weeks later",
                POLICY,
                TokenState { used_at: Some(2_000), ..fresh() },
                30 * DAY,
                Decision::Rotate { retry: true },
            ),
            (
                "retired",
                POLICY,
                TokenState { retired_at: Some(3_000), ..fresh() },
                4_000,
                Decision::Reuse,
            ),
            (
                "revoked wins over retired",
                POLICY,
                TokenState { retired_at: Some(3_000), grant_revoked: true, ..fresh() },
                4_000,
                Decision::GrantRevoked,
            ),
            (
                "idle just before",
                POLICY,
                fresh(),
                1_000 + 90 * DAY - 1,
                Decision::Rotate { retry: false },
            ),
            ("idle at the limit", POLICY, fresh(), 1_000 + 90 * DAY, Decision::IdleExpired),
            (
                "absolute",
                RefreshPolicy { idle_ttl: 90 * DAY, absolute_ttl: Some(365 * DAY), grace: 60_000 },
                TokenState { created_at: 360 * DAY, ..fresh() },
                366 * DAY,
                Decision::AbsoluteExpired,
            ),
            (
                "disabled tenant",
                POLICY,
                TokenState { tenant_disabled: true, ..fresh() },
                2_000,
                Decision::TenantDisabled,
            ),
        ];
        for (name, policy, state, now, expected) in cases {
            assert_eq!(decide(policy, state, now), expected, "{name}");
        }
    }

    #[test]
    fn expiry_is_the_earlier_of_idle_and_absolute() {
        assert_eq!(expires_at(POLICY, 10, 0), 10 + 90 * DAY);
        let capped = RefreshPolicy { idle_ttl: 90 * DAY, absolute_ttl: Some(30 * DAY), grace: 0 };
        assert_eq!(expires_at(capped, 10, 0), 30 * DAY);
    }

    #[test]
    fn supersession_table() {
        let now = 1_000_000;
        let sibling = |parent: Option<&'static str>, created_at: i64, used_at: Option<i64>| {
            Sibling { parent_id: parent, created_at, used_at }
        };
        let keep = Supersession::Keep;
        let retire = Supersession::Retire { revoke_access: false };
        let revoke = Supersession::Retire { revoke_access: true };
        let cases = [
            ("unused sibling issued just now", sibling(Some("p"), now - 10, None), keep),
            ("unused, at the window's edge", sibling(Some("p"), now - 60_000, None), retire),
            ("unused cousin within the window", sibling(Some("x"), now - 59_999, None), keep),
            ("the used parent", sibling(None, now - 10, Some(now - 5)), retire),
            ("own earlier child, retried after the window", sibling(Some("u"), 0, None), revoke),
            ("own child within the window", sibling(Some("u"), now - 1, None), keep),
            ("own child already used", sibling(Some("u"), 0, Some(1)), retire),
        ];
        for (name, other, expected) in cases {
            assert_eq!(supersede(POLICY, "u", other, now), expected, "{name}");
        }
    }
}
