//! Scopes: `scim:read` for SCIM reads, `scim:write` for changes. A request without `scope` gets
//! both; `offline_access` (which Okta may send) is accepted and implied, since we always issue a
//! refresh token; anything else unknown is dropped (RFC 6749 §3.3 lets us narrow and say so).

pub const SCIM_READ: &str = "scim:read";
pub const SCIM_WRITE: &str = "scim:write";
pub const ALL: [&str; 2] = [SCIM_READ, SCIM_WRITE];

/// What a token may do, decided from its `scope` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    pub read: bool,
    pub write: bool,
}

impl Access {
    pub const FULL: Access = Access { read: true, write: true };

    pub fn from_scope(scope: &str) -> Access {
        let mut access = Access { read: false, write: false };
        for token in scope.split(' ') {
            match token {
                SCIM_READ => access.read = true,
                SCIM_WRITE => access.write = true,
                _ => {}
            }
        }
        access
    }
}

/// The scope granted for a requested one, in canonical order, space-separated.
pub fn negotiate(requested: Option<&str>) -> String {
    let requested: Vec<&str> =
        requested.map(|s| s.split(' ').filter(|t| !t.is_empty()).collect()).unwrap_or_default();
    let granted: Vec<&str> = ALL.into_iter().filter(|s| requested.contains(s)).collect();
    if granted.is_empty() { ALL.join(" ") } else { granted.join(" ") }
}

/// Known scopes of a space-separated list, in canonical order (oxide-auth's `Scope` is a set
/// and prints in no particular order).
pub fn canonical(scope: &str) -> String {
    let tokens: Vec<&str> = scope.split(' ').collect();
    ALL.into_iter().filter(|s| tokens.contains(s)).collect::<Vec<_>>().join(" ")
}

/// Plain words for the consent page.
pub fn describe(scope: &str) -> Vec<&'static str> {
    let access = Access::from_scope(scope);
    let mut out = Vec::new();
    if access.read {
        out.push("Read the users and groups of your organisation");
    }
    if access.write {
        out.push(
            "Create, update, deactivate and delete users and groups, and change group memberships",
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_table() {
        for (requested, granted) in [
            (None, "scim:read scim:write"),
            (Some(""), "scim:read scim:write"),
            (Some("offline_access"), "scim:read scim:write"),
            (Some("openid profile"), "scim:read scim:write"),
            (Some("scim:read"), "scim:read"),
            (Some("scim:write offline_access"), "scim:write"),
            (Some("scim:write scim:read"), "scim:read scim:write"),
            (Some("scim:read  scim:read"), "scim:read"),
        ] {
            assert_eq!(negotiate(requested), granted, "{requested:?}");
        }
    }

    #[test]
    fn access_from_scope() {
        assert_eq!(Access::from_scope("scim:read scim:write"), Access::FULL);
        assert_eq!(Access::from_scope("scim:read"), Access { read: true, write: false });
        assert_eq!(Access::from_scope("scim:readx"), Access { read: false, write: false });
        assert_eq!(describe("scim:read").len(), 1);
        assert_eq!(canonical("scim:write scim:read"), "scim:read scim:write");
        assert_eq!(canonical("scim:write x"), "scim:write");
    }
}
