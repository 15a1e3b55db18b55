//! PATCH operation paths (RFC 7644 §3.5.2: `PATH = attrPath / valuePath [subAttr]`), parsed with
//! the filter tokenizer so both grammars agree on names, URNs and literals.

use std::fmt;
use std::str::FromStr;

use crate::scim::error::{ScimError, ScimResult};
use crate::scim::filter::AttrPath;
use crate::scim::filter::ValueFilter;
use crate::scim::filter::parser::{ErrorKind, parse_path_parts};

/// A parsed PATCH `path`. `attr.sub` is only set without a filter (`name.givenName`); after a
/// value filter the sub-attribute is `sub_attr` (`emails[type eq "work"].value`).
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    pub filter: Option<ValueFilter>,
    pub sub_attr: Option<String>,
}

impl PatchPath {
    /// The schema-level path of what the operation finally touches, e.g. `emails.value`.
    pub fn target(&self) -> AttrPath {
        match &self.sub_attr {
            Some(sub) => self.attr.with_sub(sub.clone()),
            None => self.attr.clone(),
        }
    }
}

/// Parses a PATCH `path`; errors are `invalidPath`.
pub fn parse_patch_path(input: &str) -> ScimResult<PatchPath> {
    let (attr, filter, sub_attr) = parse_path_parts(input, ErrorKind::Path)?;
    Ok(PatchPath { attr, filter, sub_attr })
}

impl FromStr for PatchPath {
    type Err = ScimError;

    fn from_str(s: &str) -> ScimResult<Self> {
        parse_patch_path(s)
    }
}

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attr)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub_attr {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::error::ScimType;
    use crate::scim::filter::{CompValue, CompareOp, Expr};

    const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    fn attr(urn: Option<&str>, name: &str, sub: Option<&str>) -> AttrPath {
        AttrPath { urn: urn.map(str::to_owned), name: name.to_owned(), sub: sub.map(str::to_owned) }
    }
    fn eq(name: &str, v: &str) -> ValueFilter {
        Expr::Compare {
            path: AttrPath::new(name),
            op: CompareOp::Eq,
            value: CompValue::Str(v.to_owned()),
        }
    }

    #[test]
    fn parses_patch_paths() {
        let ent_manager = format!("{ENT}:manager.value");
        let ent_department = format!("{ENT}:department");
        let ent_emails = format!("{ENT}:emails[type eq \"x\"].value");
        let cases: Vec<(&str, PatchPath)> = vec![
            (
                "userName",
                PatchPath { attr: attr(None, "userName", None), filter: None, sub_attr: None },
            ),
            (
                "name.givenName",
                PatchPath {
                    attr: attr(None, "name", Some("givenName")),
                    filter: None,
                    sub_attr: None,
                },
            ),
            (
                r#"emails[type eq "work"].value"#,
                PatchPath {
                    attr: attr(None, "emails", None),
                    filter: Some(eq("type", "work")),
                    sub_attr: Some("value".to_owned()),
                },
            ),
            (
                r#"members[value eq "2819c223"]"#,
                PatchPath {
                    attr: attr(None, "members", None),
                    filter: Some(eq("value", "2819c223")),
                    sub_attr: None,
                },
            ),
            (
                &ent_manager,
                PatchPath {
                    attr: attr(Some(ENT), "manager", Some("value")),
                    filter: None,
                    sub_attr: None,
                },
            ),
            (
                &ent_department,
                PatchPath {
                    attr: attr(Some(ENT), "department", None),
                    filter: None,
                    sub_attr: None,
                },
            ),
            (
                &ent_emails,
                PatchPath {
                    attr: attr(Some(ENT), "emails", None),
                    filter: Some(eq("type", "x")),
                    sub_attr: Some("value".to_owned()),
                },
            ),
            (
                "members[value eq \"a\"].$ref",
                PatchPath {
                    attr: attr(None, "members", None),
                    filter: Some(eq("value", "a")),
                    sub_attr: Some("$ref".to_owned()),
                },
            ),
        ];
        for (input, expected) in cases {
            let got = parse_patch_path(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(got, expected, "{input:?}");
            assert_eq!(input.parse::<PatchPath>().unwrap(), got);
            assert_eq!(parse_patch_path(&got.to_string()).unwrap(), got, "round-trip {input:?}");
        }
    }

    #[test]
    fn target_names_the_touched_attribute() {
        let p = parse_patch_path(r#"emails[type eq "work"].value"#).unwrap();
        assert_eq!(p.target(), attr(None, "emails", Some("value")));
        let p = parse_patch_path("name.givenName").unwrap();
        assert_eq!(p.target(), attr(None, "name", Some("givenName")));
    }

    #[test]
    fn rejects_bad_paths_as_invalid_path() {
        let cases = [
            ("", "empty path"),
            ("   ", "empty path"),
            ("emails[", "unexpected end of input, expected an attribute path"),
            (r#"emails[type eq "work""#, "expected ']' closing the '[' at 6"),
            (r#"emails[type eq "work"]."#, "missing attribute name at 23"),
            (r#"emails[type eq "work"].1x"#, "invalid attribute name '1x' at 23"),
            (r#"emails[type eq "work"].value.x"#, "invalid attribute name 'value.x' at 23"),
            (
                r#"emails[type eq "work"] value"#,
                "unexpected token 'value' at 23, expected end of path",
            ),
            (
                r#"emails[type eq "work"][value pr]"#,
                "unexpected token '[' at 22, expected end of path",
            ),
            ("emails[type[value pr]]", "nested value filter"),
            ("name.givenName.x", "invalid attribute name 'givenName.x'"),
            ("userName eq \"x\"", "unexpected token 'eq' at 9, expected end of path"),
            ("(userName)", "unexpected token '(' at 0, expected an attribute path"),
            ("\"userName\"", "expected an attribute path"),
            ("1abc", "invalid attribute name '1abc'"),
            ("name.givenName[type eq 1]", "must follow an attribute, not the sub-attribute"),
            ("emails[type eq work]", "invalid comparison value 'work'"),
            ("émails", "invalid attribute name"),
        ];
        for (input, expected) in cases {
            let e = parse_patch_path(input).unwrap_err();
            assert_eq!(e.scim_type, Some(ScimType::InvalidPath), "{input:?}");
            assert!(
                e.detail.contains(expected),
                "{input:?}: got {:?}, want {expected:?}",
                e.detail
            );
        }
        let long = format!("a{}", "b".repeat(crate::scim::filter::MAX_FILTER_LEN));
        assert!(parse_patch_path(&long).unwrap_err().detail.contains("maximum of 4096"));
    }
}
