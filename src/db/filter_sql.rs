//! Writes a planned SCIM filter (`scim::filter::plan`) as one SQL predicate, so every filter runs
//! in the database; every SCIM error was raised by the planner, so writing cannot fail.
//! Attributes with their own column (userName, externalId, displayName, active, meta dates) use it
//! and its index; group membership uses `group_members`; every other attribute is matched through
//! the `resource_values` index, and value paths (`emails[type eq "work" and value co "x"]`) are
//! matched within one element. The SQL text is the same on both backends; values are always bound
//! parameters, never spliced into the text.

use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping};
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Bool, Double, Text};

use super::MultiBackend;
use super::columns::{ColumnName, assignments, catalog, groups, members, users, values};
use super::value_index::{index_key, lookup_key};
use crate::scim::catalog::ROLE_TYPE;
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::filter::Filter;
use crate::scim::filter::plan::{
    Column, ColumnKind, ColumnTest, Comparison, ElementTest, Membership, OrdOp, Plan, SortBy,
    SortPlan, SortValue, Storage, Test, TextOp, Tree, ValueKey, ValueTest, plan_filter, plan_sort,
};
use crate::scim::query::Sort;
use crate::scim::schema::{
    ENTITLEMENT_SCHEMA, GROUP_SCHEMA, ROLE_SCHEMA, ResourceSchemas, USER_SCHEMA,
};

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
    /// Whether the statement may be kept prepared, cached by its text. Values are always bound,
    /// so the text varies only with the filter's shape; only shapes from a bounded set are
    /// cached (one comparison, a sort), because each connection's statement cache has no
    /// eviction and a client could otherwise fill it with ever new combinations.
    cacheable: bool,
}

impl SqlFragment {
    pub(crate) fn sql(&mut self, text: &str) -> &mut Self {
        match self.parts.last_mut() {
            Some(Part::Sql(last)) => last.push_str(text),
            _ => self.parts.push(Part::Sql(text.to_owned())),
        }
        self
    }
    pub(crate) fn text(&mut self, value: impl Into<String>) -> &mut Self {
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

    /// Whether the statement may stay prepared (see the field).
    pub fn is_cacheable(&self) -> bool {
        self.cacheable
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
        if !self.cacheable {
            out.unsafe_to_cache_prepared();
        }
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

/// The rows an attribute of its own is answered from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rows {
    /// `group_members`, with the column holding this table's id and the one holding the
    /// compared id.
    Members { own: &'static str, other: &'static str },
    /// A user's `roles` (`type_id` = 'Role') or `entitlements` (any other type) in
    /// `user_assignments`; the compared id is the item's.
    Assignments { roles: bool },
}

/// A filter planned for a resource table, ready to be written as SQL.
pub type TablePlan = Plan<ColumnName, Rows>;

/// A table that filters run against.
#[derive(Debug, Clone, Copy)]
pub struct FilterTarget {
    /// The table's `id`, which every index subquery joins on.
    id: ColumnName,
    storage: Storage<ColumnName, Rows>,
    /// Whether its rows have a value index (`resource_values`); the catalog's have none, so a
    /// filter on anything but their columns is refused.
    indexed: bool,
}

const USER_COLUMNS: &[Column<ColumnName>] = &[
    column("id", None, ColumnKind::TextExact, users::ID),
    column("userName", None, ColumnKind::TextCi, users::USER_NAME_CI),
    column("externalId", None, ColumnKind::TextExact, users::EXTERNAL_ID),
    column("displayName", None, ColumnKind::TextCi, users::DISPLAY_NAME_CI),
    column("active", None, ColumnKind::Bool, users::ACTIVE),
    column("meta", Some("created"), ColumnKind::Time, users::CREATED_AT),
    column("meta", Some("lastModified"), ColumnKind::Time, users::UPDATED_AT),
];

const GROUPS_OF_USER: Membership<Rows> = Membership {
    attribute: "groups",
    rows: Rows::Members { own: members::MEMBER_ID, other: members::GROUP_ID },
};
const ROLES_OF_USER: Membership<Rows> =
    Membership { attribute: "roles", rows: Rows::Assignments { roles: true } };
const ENTITLEMENTS_OF_USER: Membership<Rows> =
    Membership { attribute: "entitlements", rows: Rows::Assignments { roles: false } };

const fn users_with(memberships: &'static [Membership<Rows>]) -> FilterTarget {
    FilterTarget {
        id: users::ID,
        storage: Storage { core_urn: USER_SCHEMA, columns: USER_COLUMNS, memberships },
        indexed: true,
    }
}

pub const USERS: FilterTarget = users_with(&[GROUPS_OF_USER]);
const USERS_ROLES: FilterTarget = users_with(&[GROUPS_OF_USER, ROLES_OF_USER]);
const USERS_ENTITLEMENTS: FilterTarget = users_with(&[GROUPS_OF_USER, ENTITLEMENTS_OF_USER]);
const USERS_BOTH: FilterTarget = users_with(&[GROUPS_OF_USER, ROLES_OF_USER, ENTITLEMENTS_OF_USER]);

/// Users, with `roles` and `entitlements` read from their rows when the catalog backs them
/// (otherwise they are indexed values like any other attribute).
pub fn users(roles: bool, entitlements: bool) -> &'static FilterTarget {
    match (roles, entitlements) {
        (false, false) => &USERS,
        (true, false) => &USERS_ROLES,
        (false, true) => &USERS_ENTITLEMENTS,
        (true, true) => &USERS_BOTH,
    }
}

pub const GROUPS: FilterTarget = FilterTarget {
    id: groups::ID,
    storage: Storage {
        core_urn: GROUP_SCHEMA,
        columns: &[
            column("id", None, ColumnKind::TextExact, groups::ID),
            column("displayName", None, ColumnKind::TextCi, groups::DISPLAY_NAME_CI),
            column("externalId", None, ColumnKind::TextExact, groups::EXTERNAL_ID),
            column("meta", Some("created"), ColumnKind::Time, groups::CREATED_AT),
            column("meta", Some("lastModified"), ColumnKind::Time, groups::UPDATED_AT),
        ],
        memberships: &[Membership {
            attribute: "members",
            rows: Rows::Members { own: members::GROUP_ID, other: members::MEMBER_ID },
        }],
    },
    indexed: true,
};

const CATALOG_COLUMNS: &[Column<ColumnName>] = &[
    column("id", None, ColumnKind::TextExact, catalog::ITEM_ID),
    column("displayName", None, ColumnKind::TextCi, catalog::DISPLAY_NAME_CI),
    column("meta", Some("created"), ColumnKind::Time, catalog::CREATED_AT),
    column("meta", Some("lastModified"), ColumnKind::Time, catalog::UPDATED_AT),
];

const fn catalog_of(core_urn: &'static str) -> FilterTarget {
    FilterTarget {
        id: catalog::ITEM_ID,
        storage: Storage { core_urn, columns: CATALOG_COLUMNS, memberships: &[] },
        indexed: false,
    }
}

/// Items of the Role type, and of entitlement types: filtered on `id` and `displayName`.
pub const ROLE_ITEMS: FilterTarget = catalog_of(ROLE_SCHEMA);
pub const ENTITLEMENT_ITEMS: FilterTarget = catalog_of(ENTITLEMENT_SCHEMA);

const fn column(
    attr: &'static str,
    sub: Option<&'static str>,
    kind: ColumnKind,
    column: ColumnName,
) -> Column<ColumnName> {
    Column { attr, sub, kind, column }
}

/// Builds the SQL predicate for `filter` over `target` rows of `tenant`, whose attributes
/// `schemas` define.
pub fn to_predicate(
    target: &FilterTarget,
    schemas: ResourceSchemas,
    tenant: &str,
    filter: &Filter,
) -> ScimResult<SqlFragment> {
    let plan = plan_filter(&target.storage, &schemas, filter)?;
    if !target.indexed && uses_value_index(&plan) {
        return Err(ScimError::invalid_filter(
            "this resource type filters on id, displayName, meta.created and meta.lastModified",
        ));
    }
    Ok(emit(target, tenant, &plan))
}

/// ORDER BY terms for `sortBy` (RFC 7644 §3.4.2.3): resources without a value come last when
/// ascending and first when descending. The caller appends `seq`, so ties keep creation order and
/// paging stays stable. A multi-valued attribute sorts by its smallest value ascending and its
/// largest descending.
pub fn order_by(
    target: &FilterTarget,
    schemas: ResourceSchemas,
    sort: &Sort,
) -> ScimResult<SqlFragment> {
    let plan = plan_sort(&target.storage, &schemas, sort)?;
    if !target.indexed && matches!(plan.by, SortBy::Value(..)) {
        return Err(ScimError::invalid_value(
            "this resource type sorts by id, displayName, meta.created or meta.lastModified",
        ));
    }
    Ok(emit_order(target, &plan))
}

/// Whether a plan reads the value index anywhere.
fn uses_value_index(plan: &TablePlan) -> bool {
    match plan {
        Tree::And(a, b) | Tree::Or(a, b) => uses_value_index(a) || uses_value_index(b),
        Tree::Not(inner) => uses_value_index(inner),
        Tree::Leaf(Test::Value(..) | Test::Element(..)) => true,
        Tree::Leaf(_) => false,
    }
}

/// Writes a planned filter over `target` rows of `tenant`.
pub fn emit(target: &FilterTarget, tenant: &str, plan: &TablePlan) -> SqlFragment {
    let mut out = SqlFragment::default();
    let writer = Writer { target, tenant };
    let mut comparisons = 0;
    tree(plan, &mut out, &mut |test, out| {
        // A value path (`emails[type eq "work" and …]`) holds a tree of its own: never cached.
        comparisons += if matches!(test, Test::Element(..)) { 2 } else { 1 };
        writer.test(test, out)
    });
    // `userName eq`, `externalId eq`, `displayName eq`: what IdPs send on every lookup.
    out.cacheable = comparisons <= 1;
    out
}

/// Writes a planned sort over `target` rows.
pub fn emit_order(target: &FilterTarget, plan: &SortPlan<ColumnName>) -> SqlFragment {
    let dir = if plan.descending { "DESC" } else { "ASC" };
    // One attribute and a direction: a bounded set of texts.
    let mut out = SqlFragment { cacheable: true, ..SqlFragment::default() };
    match &plan.by {
        SortBy::Column(col) if col.nullable => {
            out.sql(&format!("({col} IS NULL) {dir}, {col} {dir}"));
        }
        SortBy::Column(col) => {
            out.sql(&format!("{col} {dir}"));
        }
        SortBy::Value(key, by) => {
            let column = match by {
                SortValue::Number => values::VALUE_NUM,
                SortValue::Exact => values::VALUE,
                SortValue::Folded => values::VALUE_CI,
            };
            let aggregate = if plan.descending { "MAX" } else { "MIN" };
            let value = format!(
                "(SELECT {aggregate}(s.{column}) FROM {} s WHERE s.{} = {} AND s.{} = ",
                values::TABLE,
                values::RESOURCE_ID,
                target.id,
                values::ATTR
            );
            let key = key_text(key);
            out.sql(&format!("({value}"))
                .text(key.clone())
                .sql(&format!(") IS NULL) {dir}, {value}"))
                .text(key)
                .sql(&format!(") {dir}"));
        }
    }
    out
}

/// `and`, `or` and `not` over leaves of any kind, the same way at every level.
fn tree<L>(node: &Tree<L>, out: &mut SqlFragment, leaf: &mut dyn FnMut(&L, &mut SqlFragment)) {
    let mut binary = |a: &Tree<L>, joiner: &str, b: &Tree<L>, out: &mut SqlFragment| {
        out.sql("(");
        tree(a, out, leaf);
        out.sql(joiner);
        tree(b, out, leaf);
        out.sql(")");
    };
    match node {
        Tree::And(a, b) => binary(a, " AND ", b, out),
        Tree::Or(a, b) => binary(a, " OR ", b, out),
        Tree::Not(inner) => {
            out.sql("(NOT ");
            tree(inner, out, leaf);
            out.sql(")");
        }
        Tree::Leaf(l) => leaf(l, out),
    }
}

struct Writer<'a> {
    target: &'a FilterTarget,
    tenant: &'a str,
}

impl Writer<'_> {
    fn test(&self, test: &Test<ColumnName, Rows>, out: &mut SqlFragment) {
        match test {
            Test::Column(col, test) => column_test(*col, test, out),
            Test::Member(Rows::Members { own, other }, id) => {
                out.sql(&format!(
                    "{} IN (SELECT gm.{own} FROM {} gm WHERE gm.{} = ",
                    self.target.id,
                    members::TABLE,
                    members::TENANT_ID
                ))
                .text(self.tenant);
                if let Some(id) = id {
                    out.sql(&format!(" AND gm.{other} = ")).text(id.clone());
                }
                out.sql(")");
            }
            Test::Member(Rows::Assignments { roles }, id) => {
                let types = if *roles { "=" } else { "<>" };
                out.sql(&format!(
                    "{} IN (SELECT ua.{} FROM {} ua WHERE ua.{} = ",
                    self.target.id,
                    assignments::USER_ID,
                    assignments::TABLE,
                    assignments::TENANT_ID
                ))
                .text(self.tenant)
                .sql(&format!(" AND ua.{} {types} ", assignments::TYPE_ID))
                .text(ROLE_TYPE);
                if let Some(id) = id {
                    out.sql(&format!(" AND ua.{} = ", assignments::ITEM_ID)).text(id.clone());
                }
                out.sql(")");
            }
            Test::Value(key, test) => self.value(key, test, out),
            Test::Element(parent, tests) => self.element(parent, tests, out),
        }
    }

    /// `id IN (SELECT <alias>.<select> FROM resource_values <alias> WHERE <alias>.tenant_id = ?`,
    /// left open for the caller's conditions and closing parenthesis.
    fn scan_values(&self, outer: &str, alias: &str, select: &str, out: &mut SqlFragment) {
        out.sql(&format!(
            "{outer} IN (SELECT {alias}.{select} FROM {} {alias} WHERE {alias}.{} = ",
            values::TABLE,
            values::TENANT_ID
        ))
        .text(self.tenant);
    }

    fn value(&self, key: &ValueKey, test: &ValueTest, out: &mut SqlFragment) {
        self.scan_values(&self.target.id.to_string(), "v", values::RESOURCE_ID, out);
        out.sql(" AND ");
        let key = key_text(key);
        match test {
            ValueTest::Present { with_subs: true } => attr_or_subs("v", key, out),
            ValueTest::Present { with_subs: false } => {
                out.sql(&format!("v.{} = ", values::ATTR)).text(key);
            }
            ValueTest::Compare(comparison) => {
                out.sql(&format!("v.{} = ", values::ATTR)).text(key).sql(" AND ");
                compare_value("v", comparison, out);
            }
        }
        out.sql(")");
    }

    /// `attr[…]`: resources with an element of `parent` whose sub-attributes pass `tests`.
    fn element(&self, parent: &ValueKey, tests: &Tree<ElementTest>, out: &mut SqlFragment) {
        self.scan_values(&self.target.id.to_string(), "e", values::RESOURCE_ID, out);
        out.sql(" AND ");
        attr_or_subs("e", key_text(parent), out);
        out.sql(" AND ");
        tree(tests, out, &mut |test, out| {
            let key = ValueKey { sub: Some(test.sub.clone()), ..parent.clone() };
            self.scan_values(&format!("e.{}", values::ELEMENT), "x", values::ELEMENT, out);
            out.sql(&format!(" AND x.{} = ", values::ATTR)).text(key_text(&key));
            if let Some(comparison) = &test.comparison {
                out.sql(" AND ");
                compare_value("x", comparison, out);
            }
            out.sql(")");
        });
        out.sql(")");
    }
}

fn key_text(key: &ValueKey) -> String {
    index_key(key.urn.as_deref(), &key.name, key.sub.as_deref())
}

/// `(a.attr = key OR a.attr LIKE 'key.%')`: the attribute itself or any of its sub-attributes.
fn attr_or_subs(alias: &str, key: String, out: &mut SqlFragment) {
    let attr = values::ATTR;
    let pattern = format!("{}.%", like_escape(&key));
    out.sql(&format!("({alias}.{attr} = "))
        .text(key)
        .sql(&format!(" OR {alias}.{attr} LIKE "))
        .text(pattern)
        .sql(" ESCAPE '\\')");
}

fn column_test(col: ColumnName, test: &ColumnTest, out: &mut SqlFragment) {
    let col = col.to_string();
    match test {
        ColumnTest::NotNull => {
            out.sql(&format!("{col} IS NOT NULL"));
        }
        ColumnTest::Text(op, text) => {
            out.sql(&format!("({col} IS NOT NULL AND "));
            string_comparison(&col, *op, text.clone(), out);
            out.sql(")");
        }
        ColumnTest::Bool(b) => {
            out.sql(&format!("{col} = ")).boolean(*b);
        }
        ColumnTest::Time(op, millis) => {
            out.sql(&format!("{col} {} ", ord_sql(*op))).bigint(*millis);
        }
    }
}

/// Compares an indexed value of the row aliased `alias`: numbers by `value_num`, booleans by their
/// text, strings through `value_ci` unless case-exact.
fn compare_value(alias: &str, comparison: &Comparison, out: &mut SqlFragment) {
    match comparison {
        Comparison::Number(op, number) => {
            out.sql(&format!("{alias}.{} {} ", values::VALUE_NUM, ord_sql(*op))).double(*number);
        }
        Comparison::Bool(b) => {
            out.sql(&format!("{alias}.{} = ", values::VALUE)).text(b.to_string());
        }
        Comparison::Text { op, operand, case_exact: true } => {
            if *op == TextOp::Eq {
                // The lower-cased twin narrows through the (tenant, attr, value_key) index first.
                let folded = operand.to_lowercase();
                lookup(alias, &folded, out);
                out.sql(&format!("{alias}.{} = ", values::VALUE_CI)).text(folded).sql(" AND ");
            }
            string_comparison(&format!("{alias}.{}", values::VALUE), *op, operand.clone(), out);
        }
        Comparison::Text { op, operand, case_exact: false } => {
            if *op == TextOp::Eq {
                lookup(alias, operand, out);
            }
            let col = format!("{alias}.{}", values::VALUE_CI);
            string_comparison(&col, *op, operand.clone(), out);
        }
    }
}

/// `value_key = … AND `: how an equality test on a folded string reaches the lookup index.
fn lookup(alias: &str, folded: &str, out: &mut SqlFragment) {
    out.sql(&format!("{alias}.{} = ", values::VALUE_KEY)).text(lookup_key(folded)).sql(" AND ");
}

fn ord_sql(op: OrdOp) -> &'static str {
    match op {
        OrdOp::Eq => "=",
        OrdOp::Gt => ">",
        OrdOp::Ge => ">=",
        OrdOp::Lt => "<",
        OrdOp::Le => "<=",
    }
}

fn string_comparison(col: &str, op: TextOp, text: String, out: &mut SqlFragment) {
    let (sql_op, operand) = match op {
        TextOp::Eq => ("=", text),
        TextOp::Co => ("LIKE", format!("%{}%", like_escape(&text))),
        TextOp::Sw => ("LIKE", format!("{}%", like_escape(&text))),
        TextOp::Ew => ("LIKE", format!("%{}", like_escape(&text))),
        TextOp::Gt => (">", text),
        TextOp::Ge => (">=", text),
        TextOp::Lt => ("<", text),
        TextOp::Le => ("<=", text),
    };
    out.sql(&format!("{col} {sql_op} ")).text(operand);
    if sql_op == "LIKE" {
        out.sql(" ESCAPE '\\'");
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::error::ScimError;
    use crate::scim::filter::parse_filter;
    use crate::scim::schema::{Registry, ResourceKind};

    /// The built-in schemas of the kind stored in `target`.
    fn schemas(target: &FilterTarget) -> ResourceSchemas {
        let kind = if target.storage.core_urn == USER_SCHEMA {
            ResourceKind::User
        } else {
            ResourceKind::Group
        };
        Registry::builtin().resource(kind)
    }

    fn sql(target: &FilterTarget, filter: &str) -> Result<String, ScimError> {
        let f = parse_filter(filter)?;
        to_predicate(target, schemas(target), "t1", &f).map(|p| p.debug_sql())
    }

    #[test]
    fn only_filters_of_one_comparison_stay_prepared() {
        let cases = [
            (r#"userName eq "ada@example.com""#, true),
            (r#"externalId eq "x""#, true),
            (r#"name.familyName co "love""#, true),
            ("title pr", true),
            (r#"userName eq "a" or userName eq "b""#, false),
            (r#"not (title pr)"#, true),
            (r#"emails[type eq "work"]"#, false),
        ];
        for (filter, cacheable) in cases {
            let f = parse_filter(filter).unwrap();
            let fragment = to_predicate(&USERS, schemas(&USERS), "t1", &f).unwrap();
            assert_eq!(fragment.is_cacheable(), cacheable, "{filter}");
        }
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
                "scim_users.id IN (SELECT v.resource_id FROM resource_values v WHERE v.tenant_id = ? AND v.attr = ? AND v.value_key = ? AND v.value_ci = ?)",
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

    #[test]
    fn roles_and_entitlements_read_their_rows_where_the_catalog_backs_them() {
        let both = users(true, true);
        let held = |types: &str, id: bool| {
            let item = if id { " AND ua.item_id = ?" } else { "" };
            format!(
                "scim_users.id IN (SELECT ua.user_id FROM user_assignments ua WHERE ua.tenant_id = ? AND ua.type_id {types} ?{item})"
            )
        };
        assert_eq!(sql(both, "roles.value eq \"admin\"").unwrap(), held("=", true));
        assert_eq!(sql(both, "roles[value eq \"admin\"]").unwrap(), held("=", true));
        assert_eq!(sql(both, "entitlements pr").unwrap(), held("<>", false));
        assert_eq!(sql(both, "entitlements[value eq \"pro\"]").unwrap(), held("<>", true));
        let f = parse_filter("roles.value eq \"admin\"").unwrap();
        let fragment = to_predicate(both, schemas(both), "t1", &f).unwrap();
        assert_eq!(binds(&fragment), ["t1", "Role", "admin"]);
        // Only values and presence: other sub-attributes are not rows.
        let err = sql(both, "roles.display eq \"Admin\"").unwrap_err();
        assert_eq!(err.scim_type, Some(crate::scim::error::ScimType::InvalidFilter));
        // Where the catalog backs neither, they are indexed values like any other attribute.
        assert!(
            sql(users(false, false), "roles.value eq \"admin\"")
                .unwrap()
                .contains("resource_values")
        );
        assert!(sql(users(true, false), "entitlements pr").unwrap().contains("resource_values"));
        assert!(sql(users(true, false), "roles pr").unwrap().contains("user_assignments"));
    }

    #[test]
    fn catalog_items_filter_and_sort_on_their_columns_only() {
        use crate::scim::schema::{ENTITLEMENT, ROLE};
        let roles = ResourceSchemas::of(&ROLE, &[]);
        let f = parse_filter("displayName sw \"Adm\" and not (id eq \"x\")").unwrap();
        let fragment = to_predicate(&ROLE_ITEMS, roles, "t1", &f).unwrap();
        assert_eq!(
            fragment.debug_sql(),
            "((catalog_items.display_name_ci IS NOT NULL AND catalog_items.display_name_ci LIKE ? ESCAPE '\\') AND (NOT (catalog_items.item_id IS NOT NULL AND catalog_items.item_id = ?)))"
        );
        let entitlements = ResourceSchemas::of(&ENTITLEMENT, &[]);
        for refused in ["description co \"x\"", "type eq \"License\""] {
            let f = parse_filter(refused).unwrap();
            let err = to_predicate(&ENTITLEMENT_ITEMS, entitlements, "t1", &f).unwrap_err();
            assert_eq!(
                err.scim_type,
                Some(crate::scim::error::ScimType::InvalidFilter),
                "{refused}"
            );
        }
        let by = crate::scim::filter::parser::parse_attr_path_str(
            "description",
            crate::scim::filter::parser::ErrorKind::Filter,
        )
        .unwrap();
        let sort = Sort { by, descending: false };
        assert!(order_by(&ENTITLEMENT_ITEMS, entitlements, &sort).is_err());
    }

    fn binds(fragment: &SqlFragment) -> Vec<String> {
        let bind = |b: &Bind| match b {
            Bind::Text(t) => t.clone(),
            Bind::BigInt(n) => n.to_string(),
            Bind::Double(n) => n.to_string(),
            Bind::Bool(b) => b.to_string(),
        };
        let bound = fragment.parts.iter().filter_map(|p| match p {
            Part::Bind(b) => Some(bind(b)),
            Part::Sql(_) => None,
        });
        bound.collect()
    }

    #[test]
    fn value_paths_memberships_and_sorts_are_pinned() {
        let within = "scim_users.id IN (SELECT e.resource_id FROM resource_values e WHERE e.tenant_id = ? AND (e.attr = ? OR e.attr LIKE ? ESCAPE '\\') AND (e.element IN (SELECT x.element FROM resource_values x WHERE x.tenant_id = ? AND x.attr = ? AND x.value_key = ? AND x.value_ci = ?) AND (NOT e.element IN (SELECT x.element FROM resource_values x WHERE x.tenant_id = ? AND x.attr = ? AND x.value_ci LIKE ? ESCAPE '\\'))))";
        let cases = [
            (USERS, "emails[type eq \"work\" and not (value co \"@x\")]", within),
            (
                USERS,
                "groups[value eq \"g1\"]",
                "scim_users.id IN (SELECT gm.member_id FROM group_members gm WHERE gm.tenant_id = ? AND gm.group_id = ?)",
            ),
            (
                GROUPS,
                "members pr",
                "scim_groups.id IN (SELECT gm.group_id FROM group_members gm WHERE gm.tenant_id = ?)",
            ),
            (USERS, "meta.created ge \"2026-01-01T00:00:00Z\"", "scim_users.created_at >= ?"),
            (
                USERS,
                "title ne \"x\"",
                "(NOT scim_users.id IN (SELECT v.resource_id FROM resource_values v WHERE v.tenant_id = ? AND v.attr = ? AND v.value_key = ? AND v.value_ci = ?))",
            ),
        ];
        for (target, filter, expected) in cases {
            assert_eq!(sql(&target, filter).ok().as_deref(), Some(expected), "{filter}");
        }
        let f = parse_filter("emails[type eq \"Work\" and not (value co \"@x_\")]").unwrap();
        assert_eq!(
            binds(&to_predicate(&USERS, schemas(&USERS), "t1", &f).unwrap()),
            [
                "t1",
                "emails",
                "emails.%",
                "t1",
                "emails.type",
                "work",
                "work",
                "t1",
                "emails.value",
                "%@x\\_%"
            ]
        );

        let sort = |by: &str, descending| {
            let by = crate::scim::filter::parser::parse_attr_path_str(
                by,
                crate::scim::filter::parser::ErrorKind::Filter,
            )
            .unwrap();
            order_by(&USERS, schemas(&USERS), &Sort { by, descending }).unwrap().debug_sql()
        };
        assert_eq!(sort("userName", true), "scim_users.user_name_ci DESC");
        assert_eq!(
            sort("displayName", false),
            "(scim_users.display_name_ci IS NULL) ASC, scim_users.display_name_ci ASC"
        );
        assert_eq!(
            sort("emails", true),
            "((SELECT MAX(s.value_ci) FROM resource_values s WHERE s.resource_id = scim_users.id AND s.attr = ?) IS NULL) DESC, (SELECT MAX(s.value_ci) FROM resource_values s WHERE s.resource_id = scim_users.id AND s.attr = ?) DESC"
        );
    }

    /// The emitter writes whatever plan it is given; nothing about it can fail.
    #[test]
    fn emits_hand_built_plans() {
        let key = |sub: &str| ValueKey {
            urn: Some("urn:x:Ext".to_owned()),
            name: "Codes".to_owned(),
            sub: Some(sub.to_owned()),
        };
        let exact =
            Comparison::Text { op: TextOp::Eq, operand: "AbC".to_owned(), case_exact: true };
        let plan: TablePlan = Tree::Or(
            Box::new(Tree::Leaf(Test::Value(key("Value"), ValueTest::Compare(exact)))),
            Box::new(Tree::Not(Box::new(Tree::Leaf(Test::Column(
                users::ACTIVE,
                ColumnTest::Bool(false),
            ))))),
        );
        let out = emit(&USERS, "t9", &plan);
        assert_eq!(
            out.debug_sql(),
            "(scim_users.id IN (SELECT v.resource_id FROM resource_values v WHERE v.tenant_id = ? AND v.attr = ? AND v.value_key = ? AND v.value_ci = ? AND v.value = ?) OR (NOT scim_users.active = ?))"
        );
        assert_eq!(binds(&out), ["t9", "urn:x:ext:codes.value", "abc", "abc", "AbC", "false"]);
        let order = SortPlan { by: SortBy::Value(key("n"), SortValue::Number), descending: false };
        assert!(emit_order(&USERS, &order).debug_sql().starts_with("((SELECT MIN(s.value_num)"));
        assert!(emit_order(&USERS, &order).is_cacheable(), "a sort is one of a bounded set");
    }
}
