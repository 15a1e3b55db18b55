//! Translates a SCIM filter AST into one SQL predicate, so every filter runs in the database.
//! Attributes with their own column (userName, externalId, displayName, active, meta dates) use it
//! and its index; group membership uses `group_members`; every other attribute is matched through
//! the `resource_values` index, and value paths (`emails[type eq "work" and value co "x"]`) are
//! matched within one element. The SQL text is the same on both backends; values are always bound
//! parameters, never spliced into the text.

use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping};
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Bool, Double, Text};

use super::MultiBackend;
use super::values::index_key;
use crate::clock::parse_rfc3339;
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::filter::{AttrPath, CompValue, CompareOp, Filter};
use crate::scim::query::Sort;
use crate::scim::schema::{AttrType, AttributeDef, ResourceKind, find_attribute};

/// A bound parameter.
#[derive(Debug, Clone, PartialEq)]
enum Bind {
    Text(String),
    BigInt(i64),
    Double(f64),
    Bool(bool),
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Sql(String),
    Bind(Bind),
}

/// A boolean SQL expression built at run time: portable SQL text and bound values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SqlFragment {
    parts: Vec<Part>,
}

impl SqlFragment {
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
    fn double(&mut self, value: f64) -> &mut Self {
        self.parts.push(Part::Bind(Bind::Double(value)));
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

impl Expression for SqlFragment {
    type SqlType = Bool;
}

impl<QS> AppearsOnTable<QS> for SqlFragment {}
impl<QS> SelectableExpression<QS> for SqlFragment {}

impl<GB> ValidGrouping<GB> for SqlFragment {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

impl QueryId for SqlFragment {
    type QueryId = ();
    // The text varies with the filter, so the statement must not be cached by type.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl QueryFragment<MultiBackend> for SqlFragment {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, MultiBackend>) -> diesel::QueryResult<()> {
        out.unsafe_to_cache_prepared();
        for part in &self.parts {
            match part {
                Part::Sql(text) => out.push_sql(text),
                Part::Bind(Bind::Text(v)) => out.push_bind_param::<Text, String>(v)?,
                Part::Bind(Bind::BigInt(v)) => out.push_bind_param::<BigInt, i64>(v)?,
                Part::Bind(Bind::Double(v)) => out.push_bind_param::<Double, f64>(v)?,
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
    /// Columns that never hold NULL, so sorting on them needs no NULL-placement term.
    not_null: &'static [&'static str],
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
    not_null: &["id", "user_name_ci", "active", "created_at", "updated_at"],
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
    not_null: &["id", "display_name_ci", "created_at", "updated_at"],
    membership: Some(Membership { attribute: "members", own: "group_id", other: "member_id" }),
};

impl FilterTarget {
    /// True when `path` names this table's core schema (or no schema).
    fn is_core(&self, path: &AttrPath) -> bool {
        path.urn.as_deref().is_none_or(|urn| urn.eq_ignore_ascii_case(self.core_urn))
    }

    /// The index key and definition a comparison on `path` reads: `emails co "x"` on a complex
    /// multi-valued attribute compares its `value` sub-attribute (RFC 7644 §3.4.2.2).
    fn compared_value(
        &self,
        path: &AttrPath,
        key: String,
    ) -> (String, Option<&'static AttributeDef>) {
        let def = find_attribute(self.kind, path.urn.as_deref(), &path.name, path.sub.as_deref());
        match def {
            Some(d) if path.sub.is_none() && d.multi_valued && d.is_complex() => {
                (format!("{key}.value"), d.sub_attribute("value"))
            }
            _ => (key, def),
        }
    }

    fn extension_urn<'p>(&self, path: &'p AttrPath) -> Option<&'p str> {
        path.urn.as_deref().filter(|urn| !urn.eq_ignore_ascii_case(self.core_urn))
    }

    /// The dedicated column of a core attribute path, if it has one.
    fn column_of(
        &self,
        path: &AttrPath,
    ) -> Option<&'static (&'static str, Option<&'static str>, &'static str, ColumnKind)> {
        self.columns.iter().find(|(name, sub, _, _)| {
            path.name.eq_ignore_ascii_case(name)
                && match (sub, path.sub.as_deref()) {
                    (None, None) => true,
                    (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                    _ => false,
                }
        })
    }
}

/// ORDER BY terms for `sortBy` (RFC 7644 §3.4.2.3): resources without a value come last when
/// ascending and first when descending. The caller appends `seq`, so ties keep creation order and
/// paging stays stable. A multi-valued attribute sorts by its smallest value ascending and its
/// largest descending.
pub fn order_by(target: &FilterTarget, sort: &Sort) -> ScimResult<SqlFragment> {
    let dir = if sort.descending { "DESC" } else { "ASC" };
    let path = &sort.by;
    let mut out = SqlFragment::default();
    if target.is_core(path) {
        if let Some(&(_, _, column, _)) = target.column_of(path) {
            let col = format!("{}.{column}", target.table);
            if target.not_null.contains(&column) {
                out.sql(&format!("{col} {dir}"));
            } else {
                out.sql(&format!("({col} IS NULL) {dir}, {col} {dir}"));
            }
            return Ok(out);
        }
        let membership =
            target.membership.is_some_and(|m| path.name.eq_ignore_ascii_case(m.attribute));
        if membership || path.name.eq_ignore_ascii_case("meta") {
            return Err(ScimError::invalid_value(format!("cannot sort by '{}'", path_text(path))));
        }
    }
    let key = index_key(target.extension_urn(path), &path.name, path.sub.as_deref());
    let (key, def) = target.compared_value(path, key);
    let column = match def {
        Some(d) if matches!(d.kind, AttrType::DateTime | AttrType::Integer | AttrType::Decimal) => {
            "value_num"
        }
        Some(d) if d.case_exact => "value",
        _ => "value_ci",
    };
    let aggregate = if sort.descending { "MAX" } else { "MIN" };
    let value = format!(
        "(SELECT {aggregate}(s.{column}) FROM resource_values s WHERE s.resource_id = {}.id AND s.attr = ",
        target.table
    );
    out.sql(&format!("({value}"))
        .text(key.clone())
        .sql(&format!(") IS NULL) {dir}, {value}"))
        .text(key)
        .sql(&format!(") {dir}"));
    Ok(out)
}

/// Builds the SQL predicate for `filter` over `target` rows of `tenant`.
pub fn to_predicate(
    target: &FilterTarget,
    tenant: &str,
    filter: &Filter,
) -> ScimResult<SqlFragment> {
    let mut out = SqlFragment::default();
    Builder { target, tenant }.filter(filter, &mut out)?;
    Ok(out)
}

struct Builder<'a> {
    target: &'a FilterTarget,
    tenant: &'a str,
}

impl Builder<'_> {
    fn filter(&self, filter: &Filter, out: &mut SqlFragment) -> ScimResult<()> {
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
        out: &mut SqlFragment,
    ) -> ScimResult<()> {
        out.sql("(");
        self.filter(a, out)?;
        out.sql(joiner);
        self.filter(b, out)?;
        out.sql(")");
        Ok(())
    }

    /// `attr op value`, or `attr pr` when `cmp` is `None`.
    fn leaf(
        &self,
        path: &AttrPath,
        cmp: Option<(CompareOp, &CompValue)>,
        out: &mut SqlFragment,
    ) -> ScimResult<()> {
        if self.target.is_core(path) {
            if let Some(&(_, _, column, kind)) = self.target.column_of(path) {
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
        let key = index_key(self.target.extension_urn(path), &path.name, path.sub.as_deref());
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
                let (key, def) = self.target.compared_value(path, key);
                out.sql("v.attr = ").text(key).sql(" AND ");
                value_comparison("v", def, path, op, value, out)?;
            }
        }
        out.sql(")");
        Ok(())
    }

    fn column(
        &self,
        path: &AttrPath,
        column: &str,
        kind: ColumnKind,
        cmp: Option<(CompareOp, &CompValue)>,
        out: &mut SqlFragment,
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
                let millis = date_operand(path, value)?;
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
        out: &mut SqlFragment,
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
        out: &mut SqlFragment,
    ) -> ScimResult<()> {
        if let Some(m) = self
            .target
            .membership
            .filter(|m| self.target.is_core(attr) && attr.name.eq_ignore_ascii_case(m.attribute))
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
        let parent = index_key(self.target.extension_urn(attr), &attr.name, None);
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
        self.element((attr, &parent), filter, out)?;
        out.sql(")");
        Ok(())
    }

    /// A predicate on `e.element`: true when that element satisfies `filter`.
    fn element(
        &self,
        parent: Parent<'_>,
        filter: &Filter,
        out: &mut SqlFragment,
    ) -> ScimResult<()> {
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
        (parent_path, parent): Parent<'_>,
        path: &AttrPath,
        cmp: Option<(CompareOp, &CompValue)>,
        out: &mut SqlFragment,
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
            let def = find_attribute(
                self.target.kind,
                parent_path.urn.as_deref(),
                &parent_path.name,
                Some(&path.name),
            );
            out.sql(" AND ");
            value_comparison("x", def, path, op, value, out)?;
        }
        out.sql(")");
        Ok(())
    }
}

/// The attribute a value path (`emails[…]`) filters within, and its index key.
type Parent<'a> = (&'a AttrPath, &'a str);

/// Compares an indexed value of the row aliased `alias`, by the attribute's type: numbers and
/// dateTimes by `value_num`, booleans by their text, strings case-insensitively through `value_ci`
/// unless the attribute is `caseExact`. Attributes of no schema compare as case-insensitive text.
fn value_comparison(
    alias: &str,
    def: Option<&AttributeDef>,
    path: &AttrPath,
    op: CompareOp,
    value: &CompValue,
    out: &mut SqlFragment,
) -> ScimResult<()> {
    let ordered = |what: &str| -> ScimResult<()> {
        if matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) {
            return Err(ScimError::invalid_filter(format!(
                "'{}' is {what}; co, sw and ew do not apply",
                path_text(path)
            )));
        }
        Ok(())
    };
    match (def.map(|d| d.kind), value) {
        (Some(AttrType::DateTime), value) => {
            ordered("a dateTime")?;
            number_comparison(alias, op, date_operand(path, value)? as f64, out);
        }
        (Some(AttrType::Integer | AttrType::Decimal), value) => {
            ordered("a number")?;
            let number = match value {
                CompValue::Number(n) => n.as_f64(),
                _ => None,
            }
            .ok_or_else(|| {
                ScimError::invalid_filter(format!(
                    "'{}' is a number; compare it with an unquoted number",
                    path_text(path)
                ))
            })?;
            number_comparison(alias, op, number, out);
        }
        (Some(AttrType::Boolean), value) => match (op, value) {
            (CompareOp::Eq, CompValue::Bool(b)) => {
                out.sql(&format!("{alias}.value = ")).text(b.to_string());
            }
            _ => {
                return Err(ScimError::invalid_filter(format!(
                    "'{}' is a boolean: compare it with eq true or eq false",
                    path_text(path)
                )));
            }
        },
        (_, CompValue::Str(text)) if def.is_some_and(|d| d.case_exact) => {
            if op == CompareOp::Eq {
                // The lower-cased twin narrows through the (tenant, attr, value_ci) index first.
                out.sql(&format!("{alias}.value_ci = ")).text(text.to_lowercase()).sql(" AND ");
            }
            string_comparison(&format!("{alias}.value"), op, text.clone(), out);
        }
        (_, CompValue::Str(text)) => {
            string_comparison(&format!("{alias}.value_ci"), op, text.to_lowercase(), out);
        }
        (_, CompValue::Bool(b)) if matches!(op, CompareOp::Eq) => {
            out.sql(&format!("{alias}.value = ")).text(b.to_string());
        }
        (_, CompValue::Bool(_)) => {
            return Err(ScimError::invalid_filter("booleans can only be compared with eq or ne"));
        }
        (_, CompValue::Number(n)) => {
            ordered("compared with a number")?;
            let number =
                n.as_f64().ok_or_else(|| ScimError::invalid_filter("number out of range"))?;
            number_comparison(alias, op, number, out);
        }
        (_, CompValue::Null) => return Err(ScimError::invalid_filter("null cannot be compared")),
    }
    Ok(())
}

/// A dateTime operand as Unix milliseconds: a quoted RFC 3339 date-time, any offset.
fn date_operand(path: &AttrPath, value: &CompValue) -> ScimResult<i64> {
    match value {
        CompValue::Str(s) => parse_rfc3339(s),
        _ => None,
    }
    .ok_or_else(|| {
        ScimError::invalid_filter(format!(
            "'{}' needs a quoted RFC 3339 date-time",
            path_text(path)
        ))
    })
}

fn number_comparison(alias: &str, op: CompareOp, number: f64, out: &mut SqlFragment) {
    let sql_op = match op {
        CompareOp::Gt => ">",
        CompareOp::Ge => ">=",
        CompareOp::Lt => "<",
        CompareOp::Le => "<=",
        _ => "=",
    };
    out.sql(&format!("{alias}.value_num {sql_op} ")).double(number);
}

fn string_comparison(col: &str, op: CompareOp, text: String, out: &mut SqlFragment) {
    let like = |pattern: String, out: &mut SqlFragment| {
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
