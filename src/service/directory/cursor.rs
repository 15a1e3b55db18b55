//! Opaque page cursors of the directory API: base64url of a one-letter kind and a position
//! (`s<seq>` for users and groups, `u<seq>`/`g<seq>` for a group's user and group members,
//! `t<slug>` for tenants). Clients treat them as opaque; the letter keeps one endpoint's cursor
//! from being taken for another's.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Where a page starts: after this position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cursor {
    /// After this `seq` of the users or groups table.
    Seq(i64),
    /// A group's user members after this user `seq`.
    UserMember(i64),
    /// A group's group members (all user members done) after this group `seq`.
    GroupMember(i64),
    /// After this tenant slug.
    Tenant(String),
}

/// A cursor this server did not hand out (or one of another endpoint).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the cursor is malformed; pass next_cursor of the previous page unchanged")]
pub struct BadCursor;

/// Longest cursor text accepted (a tenant slug is at most 63 characters).
const MAX_LEN: usize = 128;

impl Cursor {
    pub fn encode(&self) -> String {
        let text = match self {
            Cursor::Seq(seq) => format!("s{seq}"),
            Cursor::UserMember(seq) => format!("u{seq}"),
            Cursor::GroupMember(seq) => format!("g{seq}"),
            Cursor::Tenant(slug) => format!("t{slug}"),
        };
        URL_SAFE_NO_PAD.encode(text)
    }

    pub fn decode(text: &str) -> Result<Cursor, BadCursor> {
        if text.is_empty() || text.len() > MAX_LEN {
            return Err(BadCursor);
        }
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| BadCursor)?;
        let text = String::from_utf8(bytes).map_err(|_| BadCursor)?;
        let (kind, rest) = text.split_at_checked(1).ok_or(BadCursor)?;
        let seq = || rest.parse::<i64>().ok().filter(|s| *s >= 0).ok_or(BadCursor);
        match kind {
            "s" => Ok(Cursor::Seq(seq()?)),
            "u" => Ok(Cursor::UserMember(seq()?)),
            "g" => Ok(Cursor::GroupMember(seq()?)),
            "t" if !rest.is_empty() => Ok(Cursor::Tenant(rest.to_owned())),
            _ => Err(BadCursor),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        for cursor in [
            Cursor::Seq(0),
            Cursor::Seq(i64::MAX),
            Cursor::UserMember(42),
            Cursor::GroupMember(7),
            Cursor::Tenant("acme-inc".into()),
        ] {
            let text = cursor.encode();
            assert!(text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            assert_eq!(Cursor::decode(&text), Ok(cursor));
        }
    }

    #[test]
    fn anything_else_is_malformed() {
        let encoded = |s: &str| URL_SAFE_NO_PAD.encode(s);
        for bad in [
            String::new(),
            "!!!".into(),
            "czEy=".into(),
            encoded("s"),
            encoded("s-1"),
            encoded("sabc"),
            encoded("s99999999999999999999"),
            encoded("x12"),
            encoded("t"),
            "a".repeat(200),
            URL_SAFE_NO_PAD.encode([0xff, 0xfe]),
        ] {
            assert_eq!(Cursor::decode(&bad), Err(BadCursor), "{bad}");
        }
    }
}
