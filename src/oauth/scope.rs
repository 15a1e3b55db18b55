//! Scopes: `scim:read` for SCIM reads, `scim:write` for changes. A request without `scope` gets
//! both; `offline_access` (which Okta may send) is accepted and implied, since we always issue a
//! refresh token; `scim` (Microsoft Entra's name for the whole API) means both. Other unknown
//! scopes beside one of those are dropped (RFC 6749 §3.3 lets us narrow and say so), but a
//! request naming *only* unknown scopes is refused with `invalid_scope`: widening it to full
//! access would grant what nobody asked for.

pub const SCIM_READ: &str = "scim:read";
pub const SCIM_WRITE: &str = "scim:write";
pub const ALL: [&str; 2] = [SCIM_READ, SCIM_WRITE];
/// Accepted and implied: every grant gets a refresh token.
pub const OFFLINE_ACCESS: &str = "offline_access";
/// Microsoft Entra's scope for the whole SCIM API.
pub const ENTRA_SCIM: &str = "scim";
/// The same, as Microsoft's workload identity federation guide writes it.
pub const ENTRA_SCIM_READWRITE: &str = "scim.readwrite";

/// The request named scopes, none of which we know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("none of the requested scopes is known; request scim:read and/or scim:write")]
pub struct UnknownScopes;

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
pub fn negotiate(requested: Option<&str>) -> Result<String, UnknownScopes> {
    let requested: Vec<&str> =
        requested.map(|s| s.split(' ').filter(|t| !t.is_empty()).collect()).unwrap_or_default();
    let granted: Vec<&str> = ALL.into_iter().filter(|s| requested.contains(s)).collect();
    if !granted.is_empty() {
        return Ok(granted.join(" "));
    }
    let implies_all =
        requested.is_empty() || requested.iter().any(|s| *s == OFFLINE_ACCESS || *s == ENTRA_SCIM);
    if implies_all { Ok(ALL.join(" ")) } else { Err(UnknownScopes) }
}

/// Known scopes of a space-separated list, in canonical order (oxide-auth's `Scope` is a set
/// and prints in no particular order).
pub fn canonical(scope: &str) -> String {
    let tokens: Vec<&str> = scope.split(' ').collect();
    ALL.into_iter().filter(|s| tokens.contains(s)).collect::<Vec<_>>().join(" ")
}

/// A client-credentials request's scope (RFC 6749 §4.4.2) against the client's registered
/// scopes: absent, `scim` or `scim.readwrite` (Entra's names for the whole API) give all of
/// them; named scopes must be among them. Unlike consent, nothing unknown is dropped: the client
/// was registered for exactly this, so an unknown scope is a configuration mistake to report.
pub fn for_client(requested: Option<&str>, registered: &str) -> Result<String, String> {
    let registered = canonical(registered);
    let mut granted: Vec<&str> = Vec::new();
    for token in requested.unwrap_or("").split(' ').filter(|t| !t.is_empty()) {
        match token {
            ENTRA_SCIM | ENTRA_SCIM_READWRITE => granted.extend(registered.split(' ')),
            known if ALL.contains(&known) => {
                if !registered.split(' ').any(|r| r == known) {
                    return Err(format!("this client is not registered for '{known}'"));
                }
                granted.push(known);
            }
            unknown => {
                let shown: String = unknown.chars().take(64).collect();
                return Err(format!(
                    "unknown scope '{shown}'; request scim, scim:read and/or scim:write"
                ));
            }
        }
    }
    if granted.is_empty() {
        return Ok(registered);
    }
    Ok(canonical(&granted.join(" ")))
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
        let all = Ok("scim:read scim:write".to_owned());
        for (requested, granted) in [
            (None, all.clone()),
            (Some(""), all.clone()),
            (Some("offline_access"), all.clone()),
            (Some("scim"), all.clone()),
            (Some("openid offline_access"), all.clone()),
            (Some("openid profile"), Err(UnknownScopes)),
            (Some("admin"), Err(UnknownScopes)),
            (Some("scim:read"), Ok("scim:read".to_owned())),
            (Some("scim:write offline_access"), Ok("scim:write".to_owned())),
            (Some("scim:write openid"), Ok("scim:write".to_owned())),
            (Some("scim:write scim:read"), all.clone()),
            (Some("scim:read  scim:read"), Ok("scim:read".to_owned())),
        ] {
            assert_eq!(negotiate(requested), granted, "{requested:?}");
        }
    }

    #[test]
    fn client_credentials_scopes() {
        let full = "scim:read scim:write";
        assert_eq!(for_client(None, full), Ok(full.to_owned()));
        assert_eq!(for_client(Some("scim"), full), Ok(full.to_owned()));
        assert_eq!(for_client(Some("scim.readwrite"), "scim:read"), Ok("scim:read".to_owned()));
        assert_eq!(for_client(Some("scim:read"), full), Ok("scim:read".to_owned()));
        assert_eq!(for_client(Some("scim:write scim:read"), full), Ok(full.to_owned()));
        assert!(
            for_client(Some("scim:write"), "scim:read").unwrap_err().contains("not registered")
        );
        assert!(
            for_client(Some("scim admin"), full).unwrap_err().contains("unknown scope 'admin'")
        );
        assert!(for_client(Some("offline_access"), full).is_err());
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
