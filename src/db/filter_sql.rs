//! Translates a SCIM filter AST into one SQL predicate, so every filter runs in the database.
//! Attributes with their own column (userName, externalId, displayName, active, meta dates) use it
//! and its index; group membership uses `group_members`; every other attribute is matched through
//! the `resource_values` index, and value paths (`emails[type eq "work" and value co "x"]`) are
//! matched within one element. The SQL text is the same on both backends; values are always bound
//! parameters, never spliced into the text.

use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping};
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Bool, Text};

use super::MultiBackend;
use super::values::index_key;
use crate::clock::parse_rfc3339;
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::filter::{AttrPath, CompValue, CompareOp, Filter};
use crate::scim::schema::{ResourceKind, find_attribute};

/// A bound parameter.
#[derive(Debug, Clone, PartialEq)]
enum Bind {
    Text(String),
    BigInt(i64),
    Bool(bool),
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Sql(String),
    Bind(Bind),
}

/// A boolean SQL expression built at run time: portable SQL text and bound values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SqlPredicate {
    parts: Vec<Part>,
}

impl SqlPredicate {
    fn sql(&mut self, text: &str) -> &mut Self {
        match self.parts.last_mut() {
            Some(Part::Sql(last)) => last.push_str(text),
            _ => self.parts.push(Part::Sql(text.to_owned())),
        }
        self
    }
    fn text(&mut self, value: impl Into<String>) -> &mut Self {
        self.parts.push(Part::Bind(Bind::Text(value.into())));
        self
    }
    fn bigint(&mut self, value: i64) -> &mut Self {
        self.parts.push(Part::Bind(Bind::BigInt(value)));
        self
    }
    fn boolean(&mut self, value: bool) -> &mut Self {
        self.parts.push(Part::Bind(Bind::Bool(value)));
        self
    }

    /// The SQL text with `?` for each bound value (for tests and debugging).
    pub fn debug_sql(&self) -> String {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Sql(s) => s.as_str(),
                Part::Bind(_) => "?",
            })
            .collect()
    }
}

impl Expression for SqlPredicate {
    type SqlType = Bool;
}

impl<QS> AppearsOnTable<QS> for SqlPredicate {}
impl<QS> SelectableExpression<QS> for SqlPredicate {}

impl<GB> ValidGrouping<GB> for SqlPredicate {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

impl QueryId for SqlPredicate {
    type QueryId = ();
    // The text varies with the filter, so the statement must not be cached by type.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl QueryFragment<MultiBackend> for SqlPredicate {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, MultiBackend>) -> diesel::QueryResult<()> {
        out.unsafe_to_cache_prepared();
        for part in &self.parts {
            match part {
                Part::Sql(text) => out.push_sql(text),
                Part::Bind(Bind::Text(v)) => out.push_bind_param::<Text, String>(v)?,
                Part::Bind(Bind::BigInt(v)) => out.push_bind_param::<BigInt, i64>(v)?,
                Part::Bind(Bind::Bool(v)) => out.push_bind_param::<Bool, bool>(v)?,
            }
        }
        Ok(())
    }
}

/// How a column stores an attribute.
#[derive(Debug, Clone, Copy)]
enum ColumnKind {
    /// Stored lower-cased (`*_ci`): the operand is lower-cased too.
    TextCi,
    /// Stored as given (case-exact attributes such as `id` and `externalId`).
    TextExact,
    Bool,
    /// Unix milliseconds; the operand is an RFC 3339 date-time.
    Time,
}

/// A resource table that filters run against.
#[derive(Debug, Clone, Copy)]
pub struct FilterTarget {
    kind: ResourceKind,
    table: &'static str,
    core_urn: &'static str,
    /// (attribute, sub-attribute, column, kind); names are matched case-insensitively.
    columns: &'static [(&'static str, Option<&'static str>, &'static str, ColumnKind)],
    /// The attribute answered from `group_members`, and which side of the row this table is.
    membership: Option<Membership>,
}

#[derive(Debug, Clone, Copy)]
struct Membership {
    attribute: &'static str,
    /// Column of `group_members` holding this table's id.
    own: &'static str,
    /// Column of `group_members` holding the compared id.
    other: &'static str,
}

pub const USERS: FilterTarget = FilterTarget {
    kind: ResourceKind::User,
    table: "scim_users",
    core_urn: "urn:ietf:params:scim:schemas:core:2.0:User",
    columns: &[
        ("id", None, "id", ColumnKind::TextExact),
        ("userName", None, "user_name_ci", ColumnKind::TextCi),
        ("externalId", None, "external_id", ColumnKind::TextExact),
        ("displayName", None, "display_name_ci", ColumnKind::TextCi),
        ("active", None, "active", ColumnKind::Bool),
        ("meta", Some("created"), "created_at", ColumnKind::Time),
        ("meta", Some("lastModified"), "updated_at", ColumnKind::Time),
    ],
    membership: Some(Membership { attribute: "groups", own: "member_id", other: "group_id" }),
};

pub const GROUPS: FilterTarget = FilterTarget {
    kind: ResourceKind::Group,
    table: "scim_groups",
    core_urn: "urn:ietf:params:scim:schemas:core:2.0:Group",
    columns: &[
        ("id", None, "id", ColumnKind::TextExact),
        ("displayName", None, "display_name_ci", ColumnKind::TextCi),
        ("externalId", None, "external_id", ColumnKind::TextExact),
        ("meta", Some("created"), "created_at", ColumnKind::Time),
        ("meta", Some("lastModified"), "updated_at", ColumnKind::Time),
    ],
    membership: Some(Membership { attribute: "members", own: "group_id", other: "member_id" }),
};

/// Builds the SQL predicate for `filter` over `target` rows of `tenant`.
pub fn to_predicate(
    target: &FilterTarget,
    tenant: &str,
    filter: &Filter,
) -> ScimResult<SqlPredicate> {
    let mut out = SqlPredicate::default();
    Builder { target, tenant }.filter(filter, &mut out)?;
    Ok(out)
}

struct Builder<'a> {
    target: &'a FilterTarget,
    tenant: &'a str,
}

impl Builder<'_> {
    fn filter(&self, filter: &Filter, out: &mut SqlPredicate) -> ScimResult<()> {
        match filter {
            Filter::And(a, b) => self.binary(a, " AND ", b, out),
            Filter::Or(a, b) => self.binary(a, " OR ", b, out),
            Filter::Not(inner) => {
                out.sql("(NOT ");
                self.filter(inner, out)?;
                out.sql(")");
                Ok(())
            }
            Filter::Present(path) => self.leaf(path, None, out),
            Filter::Compare { path, op, value } => match (op, value) {
                // `ne` negates `eq`, so resources without the attribute match it too.
                (CompareOp::Ne, value) => {
                    out.sql("(NOT ");
                    self.leaf(path, Some((CompareOp::Eq, value)), out)?;
                    out.sql(")");
                    Ok(())
                }
                // `eq null`: has no value (RFC 7643 §2.5).
                (CompareOp::Eq, CompValue::Null) => {
                    out.sql("(NOT ");
                    self.leaf(path, None, out)?;
                    out.sql(")");
                    Ok(())
                }
                (_, CompValue::Null) => Err(ScimError::invalid_filter(format!(
                    "'{}' cannot be compared with null using this operator",
                    path_text(path)
                ))),
                (op, value) => self.leaf(path, Some((*op, value)), out),
            },
            Filter::ValuePath { attr, filter } => self.value_path(attr, filter, out),
        }
    }

    fn binary(
        &self,
        a: &Filter,
        joiner: &str,
        b: &Filter,
        out: &mut SqlPredicate,
    ) -> ScimResult<()> {
        out.sql("(");
        self.filter(a, out)?;
        out.sql(joiner);
        self.filter(b, out)?;
        out.sql(")");
        Ok(())
    }

    /// True when `path` names this table's core schema (or no schema).
    fn is_core(&self, path: &AttrPath) -> bool {
        path.urn.as_deref().is_none_or(|urn| urn.eq_ignore_ascii_case(self.target.core_urn))
    }

    /// `attr op value`, or `attr pr` when `cmp` is `None`.
    fn leaf(
        &self,
        path: &AttrPath,
        cmp: Option<(CompareOp, &CompValue)>,
        out: &mut SqlPredicate,
    ) -> ScimResult<()> {
        if self.is_core(path) {
            if let Some(&(_, _, column, kind)) =
                self.target.columns.iter().find(|(name, sub, _, _)| {
                    path.name.eq_ignore_ascii_case(name)
                        && match (sub, path.sub.as_deref()) {
                            (None, None) => true,
                            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                            _ => false,
                        }
                })
            {
                return self.column(path, column, kind, cmp, out);
            }
            if path.name.eq_ignore_ascii_case("meta") {
                return Err(ScimError::invalid_filter(format!(
                    "filtering on '{}' is not supported; use meta.created or meta.lastModified",
                    path_text(path)
                )));
            }
            if let Some(m) =
                self.target.membership.filter(|m| path.name.eq_ignore_ascii_case(m.attribute))
            {
                return self.membership(m, path, cmp, out);
            }
        }
        let key = index_key(self.extension_urn(path), &path.name, path.sub.as_deref());
        out.sql(&format!(
            "{}.id IN (SELECT v.resource_id FROM resource_values v WHERE v.tenant_id = ",
            self.target.table
        ))
        .text(self.tenant)
        .sql(" AND ");
        match cmp {
            // A complex attribute is present when any of its sub-attributes has a value.
            None if path.sub.is_none() => {
                out.sql("(v.attr = ")
                    .text(key.clone())
                    .sql(" OR v.attr LIKE ")
                    .text(format!("{}.%", like_escape(&key)))
                    .sql(" ESCAPE '\\')");
            }
            None => {
                out.sql("v.attr = ").text(key);
            }
            Some((op, value)) => {
                // `emails co "x"` on a complex multi-valued attribute compares its `value`.
                let complex_multi =
                    find_attribute(self.target.kind, path.urn.as_deref(), &path.name, None)
                        .is_some_and(|def| def.multi_valued && def.is_complex());
                let key =
                    if path.sub.is_none() && complex_multi { format!("{key}.value") } else { key };
                out.sql("v.attr = ").text(key).sql(" AND ");
                value_comparison("v.value_ci", op, value, out)?;
            }
        }
        out.sql(")");
        Ok(())
    }

    fn extension_urn<'p>(&self, path: &'p AttrPath) -> Option<&'p str> {
        path.urn.as_deref().filter(|urn| !urn.eq_ignore_ascii_case(self.target.core_urn))
    }

    fn column(
        &self,
        path: &AttrPath,
        column: &str,
        kind: ColumnKind,
        cmp: Option<(CompareOp, &CompValue)>,
        out: &mut SqlPredicate,
    ) -> ScimResult<()> {
        let col = format!("{}.{column}", self.target.table);
        let Some((op, value)) = cmp else {
            out.sql(&format!("{col} IS NOT NULL"));
            return Ok(());
        };
        match kind {
            ColumnKind::TextCi | ColumnKind::TextExact => {
                let CompValue::Str(text) = value else {
                    return Err(ScimError::invalid_filter(format!(
                        "'{}' is a string attribute; compare it with a quoted string",
                        path_text(path)
                    )));
                };
                let text = if matches!(kind, ColumnKind::TextCi) {
                    text.to_lowercase()
                } else {
                    text.clone()
                };
                out.sql(&format!("({col} IS NOT NULL AND "));
                string_comparison(&col, op, text, out);
                out.sql(")");
            }
            ColumnKind::Bool => match (op, value) {
                (CompareOp::Eq, CompValue::Bool(b)) => {
                    out.sql(&format!("{col} = ")).boolean(*b);
                }
                _ => {
                    return Err(ScimError::invalid_filter(format!(
                        "'{}' is a boolean: compare it with eq true or eq false",
                        path_text(path)
                    )));
                }
            },
            ColumnKind::Time => {
                let millis = match value {
                    CompValue::Str(s) => parse_rfc3339(s),
                    _ => None,
                }
                .ok_or_else(|| {
                    ScimError::invalid_filter(format!(
                        "'{}' needs a quoted RFC 3339 date-time",
                        path_text(path)
                    ))
                })?;
                let sql_op = match op {
                    CompareOp::Eq | CompareOp::Ne => "=",
                    CompareOp::Gt => ">",
                    CompareOp::Ge => ">=",
                    CompareOp::Lt => "<",
                    CompareOp::Le => "<=",
                    CompareOp::Co | CompareOp::Sw | CompareOp::Ew => {
                        return Err(ScimError::invalid_filter(format!(
                            "'{}' is a dateTime; co, sw and ew do not apply",
                            path_text(path)
                        )));
                    }
                };
                out.sql(&format!("{col} {sql_op} ")).bigint(millis);
            }
        }
        Ok(())
    }

    /// `members.value eq "id"` on groups, `groups.value eq "id"` on users, and `pr` on either.
    fn membership(
        &self,
        m: Membership,
        path: &AttrPath,
        cmp: Option<(CompareOp, &CompValue)>,
        out: &mut SqlPredicate,
    ) -> ScimResult<()> {
        if path.sub.as_deref().is_some_and(|s| !s.eq_ignore_ascii_case("value")) {
            return Err(ScimError::invalid_filter(format!(
                "{} can be filtered on {}.value only",
                m.attribute, m.attribute
            )));
        }
        out.sql(&format!(
            "{}.id IN (SELECT gm.{} FROM group_members gm WHERE gm.tenant_id = ",
            self.target.table, m.own
        ))
        .text(self.tenant);
        match cmp {
            None => {}
            Some((CompareOp::Eq, CompValue::Str(id))) => {
                out.sql(&format!(" AND gm.{} = ", m.other)).text(id.clone());
            }
            Some(_) => {
                return Err(ScimError::invalid_filter(format!(
                    "{} supports 'pr' and 'eq' on {}.value",
                    m.attribute, m.attribute
                )));
            }
        }
        out.sql(")");
        Ok(())
    }

    /// `attr[filter]`: resources with at least one element of `attr` satisfying `filter`.
    fn value_path(
        &self,
        attr: &AttrPath,
        filter: &Filter,
        out: &mut SqlPredicate,
    ) -> ScimResult<()> {
        if let Some(m) = self
            .target
            .membership
            .filter(|m| self.is_core(attr) && attr.name.eq_ignore_ascii_case(m.attribute))
        {
            // Memberships are rows, not indexed values: only `[value eq "id"]` applies.
            return match filter {
                Filter::Compare { path, op, value }
                    if path.urn.is_none()
                        && path.sub.is_none()
                        && path.name.eq_ignore_ascii_case("value") =>
                {
                    let sub =
                        AttrPath { urn: None, name: attr.name.clone(), sub: Some("value".into()) };
                    self.membership(m, &sub, Some((*op, value)), out)
                }
                _ => Err(ScimError::invalid_filter(format!(
                    "{}[…] supports only 'value eq \"id\"'",
                    attr.name
                ))),
            };
        }
        let parent = index_key(self.extension_urn(attr), &attr.name, None);
        out.sql(&format!(
            "{}.id IN (SELECT e.resource_id FROM resource_values e WHERE e.tenant_id = ",
            self.target.table
        ))
        .text(self.tenant)
        .sql(" AND (e.attr = ")
        .text(parent.clone())
        .sql(" OR e.attr LIKE ")
        .text(format!("{}.%", like_escape(&parent)))
        .sql(" ESCAPE '\\') AND ");
        self.element(&parent, filter, out)?;
        out.sql(")");
        Ok(())
    }

    /// A predicate on `e.element`: true when that element satisfies `filter`.
    fn element(&self, parent: &str, filter: &Filter, out: &mut SqlPredicate) -> ScimResult<()> {
        match filter {
            Filter::And(a, b) | Filter::Or(a, b) => {
                out.sql("(");
                self.element(parent, a, out)?;
                out.sql(if matches!(filter, Filter::And(..)) { " AND " } else { " OR " });
                self.element(parent, b, out)?;
                out.sql(")");
                Ok(())
            }
            Filter::Not(inner) => {
                out.sql("(NOT ");
                self.element(parent, inner, out)?;
                out.sql(")");
                Ok(())
            }
            Filter::ValuePath { .. } => {
                Err(ScimError::invalid_filter("value paths cannot be nested"))
            }
            Filter::Present(path) => self.element_leaf(parent, path, None, out),
            Filter::Compare { path, op, value } => match (op, value) {
                (CompareOp::Ne, v) => {
                    out.sql("(NOT ");
                    self.element_leaf(parent, path, Some((CompareOp::Eq, v)), out)?;
                    out.sql(")");
                    Ok(())
                }
                (CompareOp::Eq, CompValue::Null) => {
                    out.sql("(NOT ");
                    self.element_leaf(parent, path, None, out)?;
                    out.sql(")");
                    Ok(())
                }
                (_, CompValue::Null) => Err(ScimError::invalid_filter(format!(
                    "'{}' cannot be compared with null using this operator",
                    path_text(path)
                ))),
                (op, v) => self.element_leaf(parent, path, Some((*op, v)), out),
            },
        }
    }

    fn element_leaf(
        &self,
        parent: &str,
        path: &AttrPath,
        cmp: Option<(CompareOp, &CompValue)>,
        out: &mut SqlPredicate,
    ) -> ScimResult<()> {
        if path.urn.is_some() || path.sub.is_some() {
            return Err(ScimError::invalid_filter(format!(
                "'{}' inside [ ] must be a plain sub-attribute name",
                path_text(path)
            )));
        }
        out.sql("e.element IN (SELECT x.element FROM resource_values x WHERE x.tenant_id = ")
            .text(self.tenant)
            .sql(" AND x.attr = ")
            .text(format!("{parent}.{}", path.name.to_ascii_lowercase()));
        if let Some((op, value)) = cmp {
            out.sql(" AND ");
            value_comparison("x.value_ci", op, value, out)?;
        }
        out.sql(")");
        Ok(())
    }
}

/// Compares an indexed value; strings compare case-insensitively (both sides lower-cased).
fn value_comparison(
    col: &str,
    op: CompareOp,
    value: &CompValue,
    out: &mut SqlPredicate,
) -> ScimResult<()> {
    let text = match value {
        CompValue::Str(s) => s.to_lowercase(),
        CompValue::Bool(b) => {
            if !matches!(op, CompareOp::Eq | CompareOp::Ne) {
                return Err(ScimError::invalid_filter(
                    "booleans can only be compared with eq or ne",
                ));
            }
            b.to_string()
        }
        CompValue::Number(n) => n.to_string(),
        CompValue::Null => return Err(ScimError::invalid_filter("null cannot be compared")),
    };
    string_comparison(col, op, text, out);
    Ok(())
}

fn string_comparison(col: &str, op: CompareOp, text: String, out: &mut SqlPredicate) {
    let like = |pattern: String, out: &mut SqlPredicate| {
        out.sql(&format!("{col} LIKE ")).text(pattern).sql(" ESCAPE '\\'");
    };
    match op {
        CompareOp::Eq | CompareOp::Ne => {
            out.sql(&format!("{col} = ")).text(text);
        }
        CompareOp::Co => like(format!("%{}%", like_escape(&text)), out),
        CompareOp::Sw => like(format!("{}%", like_escape(&text)), out),
        CompareOp::Ew => like(format!("%{}", like_escape(&text)), out),
        CompareOp::Gt => {
            out.sql(&format!("{col} > ")).text(text);
        }
        CompareOp::Ge => {
            out.sql(&format!("{col} >= ")).text(text);
        }
        CompareOp::Lt => {
            out.sql(&format!("{col} < ")).text(text);
        }
        CompareOp::Le => {
            out.sql(&format!("{col} <= ")).text(text);
        }
    }
}

/// Escapes LIKE wildcards so user input matches literally (with `ESCAPE '\'`).
pub fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn path_text(path: &AttrPath) -> String {
    let mut text = String::new();
    if let Some(urn) = &path.urn {
        text.push_str(urn);
        text.push(':');
    }
    text.push_str(&path.name);
    if let Some(sub) = &path.sub {
        text.push('.');
        text.push_str(sub);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::filter::parse_filter;

    fn sql(target: &FilterTarget, filter: &str) -> Result<String, ScimError> {
        let f = parse_filter(filter)?;
        to_predicate(target, "t1", &f).map(|p| p.debug_sql())
    }

    #[test]
    fn columns_values_and_value_paths_translate() {
        let cases = [
            (
                USERS,
                "userName eq \"A@b.C\"",
                "(scim_users.user_name_ci IS NOT NULL AND scim_users.user_name_ci = ?)",
            ),
            (USERS, "active eq true", "scim_users.active = ?"),
            (USERS, "meta.lastModified gt \"2026-01-01T00:00:00Z\"", "scim_users.updated_at > ?"),
            (USERS, "externalId pr", "scim_users.external_id IS NOT NULL"),
            (
                USERS,
                "emails.value eq \"a@b.c\"",
                "scim_users.id IN (SELECT v.resource_id FROM resource_values v WHERE v.tenant_id = ? AND v.attr = ? AND v.value_ci = ?)",
            ),
            (
                GROUPS,
                "members.value eq \"u1\"",
                "scim_groups.id IN (SELECT gm.group_id FROM group_members gm WHERE gm.tenant_id = ? AND gm.member_id = ?)",
            ),
            (
                USERS,
                "not (title pr)",
                "(NOT scim_users.id IN (SELECT v.resource_id FROM resource_values v WHERE v.tenant_id = ? AND (v.attr = ? OR v.attr LIKE ? ESCAPE '\\')))",
            ),
        ];
        for (target, filter, expected) in cases {
            assert_eq!(sql(&target, filter).ok().as_deref(), Some(expected), "{filter}");
        }
        let value_path =
            sql(&USERS, "emails[type eq \"work\" and value co \"@x\"]").unwrap_or_default();
        assert!(value_path.contains("e.element IN (SELECT x.element"), "{value_path}");
        assert!(value_path.contains(" AND e.element IN"), "{value_path}");
    }

    #[test]
    fn type_mismatches_are_invalid_filter() {
        for bad in [
            "userName eq 5",
            "active eq \"yes\"",
            "active gt true",
            "meta.created gt \"yesterday\"",
            "meta.created co \"2026\"",
            "meta.location eq \"x\"",
            "userName gt null",
        ] {
            let err = sql(&USERS, bad).err();
            assert_eq!(
                err.map(|e| e.scim_type),
                Some(Some(crate::scim::error::ScimType::InvalidFilter)),
                "{bad}"
            );
        }
    }

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(like_escape("50%_a\\b"), "50\\%\\_a\\\\b");
    }
}
