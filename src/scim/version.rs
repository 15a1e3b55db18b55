//! Resource versions as entity tags (RFC 7644 §3.14) and the `If-Match` / `If-None-Match`
//! preconditions clients send with them.
//!
//! Every write bumps a resource's integer `version`; its tag is the weak `W/"<version>"` because
//! two versions may render the same bytes differently (attribute projection, member display names).
//! Comparison is therefore weak (RFC 9110 §8.8.3.2): `W/"7"` and `"7"` both name version 7.

use super::error::{ScimError, ScimResult};

/// The entity tag of a version, as sent in `ETag` and `meta.version`.
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// A parsed `If-Match` or `If-None-Match` header (or a Bulk operation's `version`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntityTags {
    /// `*`: any current version.
    Any,
    /// The opaque tags listed, without the weakness prefix and quotes.
    Tags(Vec<String>),
}

impl EntityTags {
    /// Parses `*` or a comma-separated list of (weak or strong) quoted tags. A malformed header is
    /// a client error, never silently ignored: ignoring it would turn a guarded write into a blind one.
    pub fn parse(header: &str) -> ScimResult<EntityTags> {
        let header = header.trim();
        if header == "*" {
            return Ok(EntityTags::Any);
        }
        let mut tags = Vec::new();
        for item in header.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let strong = item.strip_prefix("W/").unwrap_or(item);
            let opaque = strong
                .strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'))
                .filter(|s| !s.contains('"'))
                .ok_or_else(|| {
                    ScimError::bad_request(format!(
                        "'{item}' is not an entity tag; send the ETag or meta.version exactly as received"
                    ))
                })?;
            tags.push(opaque.to_owned());
        }
        if tags.is_empty() {
            return Err(ScimError::bad_request("empty entity tag list"));
        }
        Ok(EntityTags::Tags(tags))
    }

    /// Weak comparison against the current version.
    pub fn matches(&self, version: i64) -> bool {
        match self {
            EntityTags::Any => true,
            EntityTags::Tags(tags) => {
                let current = version.to_string();
                tags.contains(&current)
            }
        }
    }
}

/// Refuses a write whose `If-Match` names another version than the current one (412).
pub fn check_if_match(if_match: Option<&EntityTags>, version: i64) -> ScimResult<()> {
    match if_match {
        Some(tags) if !tags.matches(version) => Err(ScimError::precondition_failed(format!(
            "the resource has changed: its current version is {}; read it again and retry",
            etag(version)
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_compares_weakly() {
        // header, version, expected match (None = parse error)
        let cases: &[(&str, i64, Option<bool>)] = &[
            ("*", 9, Some(true)),
            ("W/\"3\"", 3, Some(true)),
            ("\"3\"", 3, Some(true)),
            ("W/\"3\"", 4, Some(false)),
            ("W/\"1\", W/\"4\"", 4, Some(true)),
            (" W/\"2\" ,\"5\" ", 5, Some(true)),
            ("3", 3, None),
            ("W/3", 3, None),
            ("\"3", 3, None),
            ("", 3, None),
            (",", 3, None),
        ];
        for (header, version, expected) in cases {
            let got = EntityTags::parse(header).map(|t| t.matches(*version));
            match expected {
                Some(e) => assert_eq!(got.as_ref().ok(), Some(e), "{header}"),
                None => assert_eq!(got.err().map(|e| e.status), Some(400), "{header}"),
            }
        }
    }

    #[test]
    fn stale_if_match_is_412_and_absent_or_current_passes() {
        let stale = EntityTags::parse("W/\"1\"").ok();
        assert_eq!(check_if_match(stale.as_ref(), 2).err().map(|e| e.status), Some(412));
        assert!(check_if_match(stale.as_ref(), 1).is_ok());
        assert!(check_if_match(None, 7).is_ok());
        assert_eq!(etag(7), "W/\"7\"");
    }
}
