//! The refresh-token rules, as a pure decision over a token's state.
//!
//! Every refresh returns a child of the presented token. A token stays usable until one of its
//! children is itself used: then the token and its other children are *retired*. So a client that
//! lost a response, or refreshed from several threads at once, still holds a working token, while
//! a retired token coming back means two parties hold the family: that is theft, and the whole
//! grant is revoked.

/// Lifetimes in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshPolicy {
    /// A token unused for this long expires.
    pub idle_ttl: i64,
    /// The grant's refresh tokens all expire this long after consent, if set.
    pub absolute_ttl: Option<i64>,
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
    const POLICY: RefreshPolicy = RefreshPolicy { idle_ttl: 90 * DAY, absolute_ttl: None };

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
                RefreshPolicy { idle_ttl: 90 * DAY, absolute_ttl: Some(365 * DAY) },
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
        let capped = RefreshPolicy { idle_ttl: 90 * DAY, absolute_ttl: Some(30 * DAY) };
        assert_eq!(expires_at(capped, 10, 0), 30 * DAY);
    }
}
