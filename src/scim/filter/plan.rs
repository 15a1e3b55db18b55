//! Plans a filter or sort against how a resource is stored: resolves each attribute, checks operand
//! types and raises every SCIM error, so the SQL emitter in `db/` only writes text and cannot fail.

use super::ast::{AttrPath, CompValue, CompareOp, Expr, Filter, ValueFilter, ValuePath};
use crate::clock::parse_rfc3339;
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::query::Sort;
use crate::scim::schema::{AttrType, AttributeDef, ResourceSchemas};

/// How a dedicated column stores an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// Stored lower-cased: the operand is lower-cased too.
    TextCi,
    /// Stored as given (case-exact attributes such as `id` and `externalId`).
    TextExact,
    Bool,
    /// An instant; the operand is an RFC 3339 date-time.
    Time,
}

/// An attribute (or `meta` sub-attribute) with a column of its own. `C` is the storage's handle for
/// the column; the planner only copies it into the plan.
#[derive(Debug, Clone, Copy)]
pub struct Column<C> {
    pub attr: &'static str,
    pub sub: Option<&'static str>,
    pub kind: ColumnKind,
    pub column: C,
}

/// An attribute answered from rows of its own (`groups` on users, `members` on groups, a user's
/// catalog-backed `roles` and `entitlements`); `M` is the storage's handle for those rows.
#[derive(Debug, Clone, Copy)]
pub struct Membership<M> {
    pub attribute: &'static str,
    pub rows: M,
}

/// How one resource type is stored, in SCIM terms: everything else lives in the value index.
#[derive(Debug, Clone, Copy)]
pub struct Storage<C: 'static, M: 'static> {
    pub core_urn: &'static str,
    /// Names are matched case-insensitively.
    pub columns: &'static [Column<C>],
    pub memberships: &'static [Membership<M>],
}

/// Where the planner reads attribute types: the schema registry in the server, a table in tests.
pub trait Definitions {
    fn find(&self, urn: Option<&str>, name: &str, sub: Option<&str>) -> Option<&AttributeDef>;
}

impl Definitions for ResourceSchemas {
    fn find(&self, urn: Option<&str>, name: &str, sub: Option<&str>) -> Option<&AttributeDef> {
        self.find_attribute(urn, name, sub)
    }
}

/// A boolean tree over tests `L`. It has no `ne`: `ne` and `eq null` are planned as `not`.
#[derive(Debug, Clone, PartialEq)]
pub enum Tree<L> {
    And(Box<Tree<L>>, Box<Tree<L>>),
    Or(Box<Tree<L>>, Box<Tree<L>>),
    Not(Box<Tree<L>>),
    Leaf(L),
}

/// A planned filter: which storage answers each test, with operands already of the stored type.
pub type Plan<C, M> = Tree<Test<C, M>>;

/// One test on a resource.
#[derive(Debug, Clone, PartialEq)]
pub enum Test<C, M> {
    Column(C, ColumnTest),
    /// Has a membership row, or one whose other side is this id.
    Member(M, Option<String>),
    Value(ValueKey, ValueTest),
    /// `attr[…]`: one element of the attribute at `ValueKey` (which has no `sub`) passes every
    /// element test. Element tests hold no element test, so value paths cannot nest here either.
    Element(ValueKey, Tree<ElementTest>),
}

/// A test on a dedicated column.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnTest {
    NotNull,
    /// The column is not null and compares to the operand, which is in the column's case.
    Text(TextOp, String),
    Bool(bool),
    /// Unix milliseconds.
    Time(OrdOp, i64),
}

/// The value index's name for an attribute: an extension URN only when it is not the core schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueKey {
    pub urn: Option<String>,
    pub name: String,
    pub sub: Option<String>,
}

/// A test on an attribute's indexed values.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueTest {
    /// Has a value; `with_subs` also counts values of sub-attributes (a complex attribute is
    /// present when any of its sub-attributes is).
    Present {
        with_subs: bool,
    },
    Compare(Comparison),
}

/// A test on one sub-attribute of an element inside `attr[…]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ElementTest {
    pub sub: String,
    /// `None` tests presence.
    pub comparison: Option<Comparison>,
}

/// A comparison of an indexed value, by the attribute's type.
#[derive(Debug, Clone, PartialEq)]
pub enum Comparison {
    /// Numbers and dateTimes (as Unix milliseconds).
    Number(OrdOp, f64),
    /// Booleans are indexed as the text `true` / `false`.
    Bool(bool),
    /// A case-exact operand compares with the stored text, any other with its lower-cased twin
    /// (and the operand is lower-cased).
    Text { op: TextOp, operand: String, case_exact: bool },
}

/// The string operators that remain once `ne` is planned as `not eq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextOp {
    Eq,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// The operators that order numbers and instants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrdOp {
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
}

impl TextOp {
    /// `ne` becomes `eq` under a `not` (so resources without the attribute match it too).
    fn split(op: CompareOp) -> (bool, TextOp) {
        let op = match op {
            CompareOp::Eq => TextOp::Eq,
            CompareOp::Ne => return (true, TextOp::Eq),
            CompareOp::Co => TextOp::Co,
            CompareOp::Sw => TextOp::Sw,
            CompareOp::Ew => TextOp::Ew,
            CompareOp::Gt => TextOp::Gt,
            CompareOp::Ge => TextOp::Ge,
            CompareOp::Lt => TextOp::Lt,
            CompareOp::Le => TextOp::Le,
        };
        (false, op)
    }

    /// `None` for the substring operators, which do not order.
    fn ordered(self) -> Option<OrdOp> {
        match self {
            TextOp::Eq => Some(OrdOp::Eq),
            TextOp::Gt => Some(OrdOp::Gt),
            TextOp::Ge => Some(OrdOp::Ge),
            TextOp::Lt => Some(OrdOp::Lt),
            TextOp::Le => Some(OrdOp::Le),
            TextOp::Co | TextOp::Sw | TextOp::Ew => None,
        }
    }
}

/// A planned `sortBy`.
#[derive(Debug, Clone, PartialEq)]
pub struct SortPlan<C> {
    pub by: SortBy<C>,
    pub descending: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SortBy<C> {
    Column(C),
    /// The smallest value ascending, the largest descending, of this stored form.
    Value(ValueKey, SortValue),
}

/// Which stored form of an indexed value sorts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortValue {
    Number,
    Exact,
    Folded,
}

/// `attr op value`, or `attr pr` when `None`.
type Cmp<'f> = Option<(TextOp, &'f CompValue)>;

/// Plans `filter` over resources stored as `storage`, with attribute types from `defs`.
pub fn plan_filter<C: Copy + 'static, M: Copy + 'static>(
    storage: &Storage<C, M>,
    defs: &dyn Definitions,
    filter: &Filter,
) -> ScimResult<Plan<C, M>> {
    Planner { storage, defs }.filter(filter)
}

/// Plans `sortBy` (RFC 7644 §3.4.2.3) over resources stored as `storage`.
pub fn plan_sort<C: Copy + 'static, M: Copy + 'static>(
    storage: &Storage<C, M>,
    defs: &dyn Definitions,
    sort: &Sort,
) -> ScimResult<SortPlan<C>> {
    let planner = Planner { storage, defs };
    let path = &sort.by;
    let descending = sort.descending;
    if planner.is_core(path) {
        if let Some(column) = planner.column_of(path) {
            return Ok(SortPlan { by: SortBy::Column(column.column), descending });
        }
        if planner.membership(path).is_some() || path.name.eq_ignore_ascii_case("meta") {
            return Err(ScimError::invalid_value(format!("cannot sort by '{path}'")));
        }
    }
    let (key, def) = planner.compared_value(path);
    let value = match def {
        Some(d) if matches!(d.kind, AttrType::DateTime | AttrType::Integer | AttrType::Decimal) => {
            SortValue::Number
        }
        Some(d) if d.case_exact => SortValue::Exact,
        _ => SortValue::Folded,
    };
    Ok(SortPlan { by: SortBy::Value(key, value), descending })
}

struct Planner<'a, C: 'static, M: 'static> {
    storage: &'a Storage<C, M>,
    defs: &'a dyn Definitions,
}

/// Plans the logic of one level of a filter (the top level, or inside brackets) and hands each
/// comparison and presence test to `leaf`, each value path to `nested`. `ne` becomes `not eq` and
/// `eq null` becomes `not pr` (RFC 7643 §2.5) here, so no leaf planner sees either.
fn logic<V, L>(
    filter: &Expr<V>,
    leaf: &mut dyn FnMut(&AttrPath, Cmp<'_>) -> ScimResult<Tree<L>>,
    nested: &mut dyn FnMut(&V) -> ScimResult<Tree<L>>,
) -> ScimResult<Tree<L>> {
    let not = |t: Tree<L>| Tree::Not(Box::new(t));
    Ok(match filter {
        Expr::And(a, b) => {
            Tree::And(Box::new(logic(a, leaf, nested)?), Box::new(logic(b, leaf, nested)?))
        }
        Expr::Or(a, b) => {
            Tree::Or(Box::new(logic(a, leaf, nested)?), Box::new(logic(b, leaf, nested)?))
        }
        Expr::Not(inner) => not(logic(inner, leaf, nested)?),
        Expr::Present(path) => leaf(path, None)?,
        Expr::Compare { path, op, value } => match (TextOp::split(*op), value) {
            ((true, op), value) => not(leaf(path, Some((op, value)))?),
            ((false, TextOp::Eq), CompValue::Null) => not(leaf(path, None)?),
            (_, CompValue::Null) => {
                return Err(ScimError::invalid_filter(format!(
                    "'{path}' cannot be compared with null using this operator"
                )));
            }
            ((false, op), value) => leaf(path, Some((op, value)))?,
        },
        Expr::ValuePath(v) => nested(v)?,
    })
}

impl<C: Copy + 'static, M: Copy + 'static> Planner<'_, C, M> {
    fn filter(&self, filter: &Filter) -> ScimResult<Plan<C, M>> {
        logic(filter, &mut |path, cmp| self.leaf(path, cmp), &mut |vp| self.value_path(vp))
    }

    /// True when `path` names this resource's core schema (or no schema).
    fn is_core(&self, path: &AttrPath) -> bool {
        path.urn.as_deref().is_none_or(|urn| urn.eq_ignore_ascii_case(self.storage.core_urn))
    }

    /// The value index's key for `path`: the URN stays only for extensions.
    fn key(&self, path: &AttrPath) -> ValueKey {
        let urn =
            path.urn.as_deref().filter(|urn| !urn.eq_ignore_ascii_case(self.storage.core_urn));
        ValueKey { urn: urn.map(str::to_owned), name: path.name.clone(), sub: path.sub.clone() }
    }

    /// The key and definition a comparison on `path` reads: `emails co "x"` on a complex
    /// multi-valued attribute compares its `value` sub-attribute (RFC 7644 §3.4.2.2).
    fn compared_value(&self, path: &AttrPath) -> (ValueKey, Option<&AttributeDef>) {
        let key = self.key(path);
        let def = self.defs.find(path.urn.as_deref(), &path.name, path.sub.as_deref());
        match def {
            Some(d) if path.sub.is_none() && d.multi_valued && d.is_complex() => {
                (ValueKey { sub: Some("value".to_owned()), ..key }, d.sub_attribute("value"))
            }
            _ => (key, def),
        }
    }

    /// The dedicated column of a core attribute path, if it has one.
    fn column_of(&self, path: &AttrPath) -> Option<&Column<C>> {
        self.storage.columns.iter().find(|c| {
            path.name.eq_ignore_ascii_case(c.attr)
                && match (c.sub, path.sub.as_deref()) {
                    (None, None) => true,
                    (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                    _ => false,
                }
        })
    }

    fn membership(&self, path: &AttrPath) -> Option<Membership<M>> {
        self.storage
            .memberships
            .iter()
            .copied()
            .find(|m| path.name.eq_ignore_ascii_case(m.attribute))
    }

    fn leaf(&self, path: &AttrPath, cmp: Cmp<'_>) -> ScimResult<Plan<C, M>> {
        if self.is_core(path) {
            if let Some(column) = self.column_of(path) {
                let test = column_test(path, column.kind, cmp)?;
                return Ok(Tree::Leaf(Test::Column(column.column, test)));
            }
            if path.name.eq_ignore_ascii_case("meta") {
                return Err(ScimError::invalid_filter(format!(
                    "filtering on '{path}' is not supported; use meta.created or meta.lastModified"
                )));
            }
            if let Some(m) = self.membership(path) {
                return membership(m, path, cmp.map(|(op, v)| (op == TextOp::Eq, v)));
            }
        }
        let test = match cmp {
            None => ValueTest::Present { with_subs: path.sub.is_none() },
            Some((op, value)) => {
                let (key, def) = self.compared_value(path);
                let comparison = comparison(def, path, op, value)?;
                return Ok(Tree::Leaf(Test::Value(key, ValueTest::Compare(comparison))));
            }
        };
        Ok(Tree::Leaf(Test::Value(self.key(path), test)))
    }

    /// `attr[filter]`: resources with at least one element of `attr` satisfying `filter`.
    fn value_path(&self, vp: &ValuePath) -> ScimResult<Plan<C, M>> {
        let ValuePath { attr, filter } = vp;
        if let Some(m) = self.membership(attr).filter(|_| self.is_core(attr)) {
            // Memberships are rows, not indexed values: only `[value eq "id"]` applies.
            return match filter.as_ref() {
                Expr::Compare { path, op, value }
                    if path.urn.is_none()
                        && path.sub.is_none()
                        && path.name.eq_ignore_ascii_case("value") =>
                {
                    membership(m, &attr.with_sub("value"), Some((*op == CompareOp::Eq, value)))
                }
                _ => Err(ScimError::invalid_filter(format!(
                    "{}[…] supports only 'value eq \"id\"'",
                    attr.name
                ))),
            };
        }
        let parent = self.key(&attr.parent());
        Ok(Tree::Leaf(Test::Element(parent, self.element(attr, filter)?)))
    }

    /// The tests one element of `parent` must pass.
    fn element(&self, parent: &AttrPath, filter: &ValueFilter) -> ScimResult<Tree<ElementTest>> {
        let mut leaf = |path: &AttrPath, cmp: Cmp<'_>| {
            if path.urn.is_some() || path.sub.is_some() {
                return Err(ScimError::invalid_filter(format!(
                    "'{path}' inside [ ] must be a plain sub-attribute name"
                )));
            }
            let comparison = match cmp {
                None => None,
                Some((op, value)) => {
                    let def = self.defs.find(parent.urn.as_deref(), &parent.name, Some(&path.name));
                    Some(comparison(def, path, op, value)?)
                }
            };
            Ok(Tree::Leaf(ElementTest { sub: path.name.clone(), comparison }))
        };
        logic(filter, &mut leaf, &mut |never| match *never {})
    }
}

/// `members.value eq "id"` on groups, `groups.value eq "id"` on users, and `pr` on either; `cmp`
/// says whether the operator was `eq`.
fn membership<C, M>(
    m: Membership<M>,
    path: &AttrPath,
    cmp: Option<(bool, &CompValue)>,
) -> ScimResult<Plan<C, M>> {
    if path.sub.as_deref().is_some_and(|s| !s.eq_ignore_ascii_case("value")) {
        return Err(ScimError::invalid_filter(format!(
            "{} can be filtered on {}.value only",
            m.attribute, m.attribute
        )));
    }
    match cmp {
        None => Ok(Tree::Leaf(Test::Member(m.rows, None))),
        Some((true, CompValue::Str(id))) => Ok(Tree::Leaf(Test::Member(m.rows, Some(id.clone())))),
        Some(_) => Err(ScimError::invalid_filter(format!(
            "{} supports 'pr' and 'eq' on {}.value",
            m.attribute, m.attribute
        ))),
    }
}

fn column_test(path: &AttrPath, kind: ColumnKind, cmp: Cmp<'_>) -> ScimResult<ColumnTest> {
    let Some((op, value)) = cmp else {
        return Ok(ColumnTest::NotNull);
    };
    match kind {
        ColumnKind::TextCi | ColumnKind::TextExact => {
            let CompValue::Str(text) = value else {
                return Err(ScimError::invalid_filter(format!(
                    "'{path}' is a string attribute; compare it with a quoted string"
                )));
            };
            let text = if kind == ColumnKind::TextCi { text.to_lowercase() } else { text.clone() };
            Ok(ColumnTest::Text(op, text))
        }
        ColumnKind::Bool => match (op, value) {
            (TextOp::Eq, CompValue::Bool(b)) => Ok(ColumnTest::Bool(*b)),
            _ => Err(ScimError::invalid_filter(format!(
                "'{path}' is a boolean: compare it with eq true or eq false"
            ))),
        },
        ColumnKind::Time => {
            // The operand is checked before the operator, so a bad date is reported first.
            let millis = date_operand(path, value)?;
            let op = op.ordered().ok_or_else(|| {
                ScimError::invalid_filter(format!(
                    "'{path}' is a dateTime; co, sw and ew do not apply"
                ))
            })?;
            Ok(ColumnTest::Time(op, millis))
        }
    }
}

/// Compares an indexed value by the attribute's type: numbers and dateTimes as numbers, booleans
/// by their text, strings case-insensitively unless the attribute is `caseExact`. Attributes of
/// no schema compare by the operand's type, strings case-insensitively.
fn comparison(
    def: Option<&AttributeDef>,
    path: &AttrPath,
    op: TextOp,
    value: &CompValue,
) -> ScimResult<Comparison> {
    let ordered = |what: &str| {
        op.ordered().ok_or_else(|| {
            ScimError::invalid_filter(format!("'{path}' is {what}; co, sw and ew do not apply"))
        })
    };
    Ok(match (def.map(|d| d.kind), value) {
        (Some(AttrType::DateTime), value) => {
            let op = ordered("a dateTime")?;
            Comparison::Number(op, date_operand(path, value)? as f64)
        }
        (Some(AttrType::Integer | AttrType::Decimal), value) => {
            let op = ordered("a number")?;
            let number = match value {
                CompValue::Number(n) => n.as_f64(),
                _ => None,
            }
            .ok_or_else(|| {
                ScimError::invalid_filter(format!(
                    "'{path}' is a number; compare it with an unquoted number"
                ))
            })?;
            Comparison::Number(op, number)
        }
        (Some(AttrType::Boolean), value) => match (op, value) {
            (TextOp::Eq, CompValue::Bool(b)) => Comparison::Bool(*b),
            _ => {
                return Err(ScimError::invalid_filter(format!(
                    "'{path}' is a boolean: compare it with eq true or eq false"
                )));
            }
        },
        (_, CompValue::Str(text)) if def.is_some_and(|d| d.case_exact) => {
            Comparison::Text { op, operand: text.clone(), case_exact: true }
        }
        (_, CompValue::Str(text)) => {
            Comparison::Text { op, operand: text.to_lowercase(), case_exact: false }
        }
        (_, CompValue::Bool(b)) if op == TextOp::Eq => Comparison::Bool(*b),
        (_, CompValue::Bool(_)) => {
            return Err(ScimError::invalid_filter("booleans can only be compared with eq or ne"));
        }
        (_, CompValue::Number(n)) => {
            let op = ordered("compared with a number")?;
            let number =
                n.as_f64().ok_or_else(|| ScimError::invalid_filter("number out of range"))?;
            Comparison::Number(op, number)
        }
        (_, CompValue::Null) => return Err(ScimError::invalid_filter("null cannot be compared")),
    })
}

/// A dateTime operand as Unix milliseconds: a quoted RFC 3339 date-time, any offset.
fn date_operand(path: &AttrPath, value: &CompValue) -> ScimResult<i64> {
    match value {
        CompValue::Str(s) => parse_rfc3339(s),
        _ => None,
    }
    .ok_or_else(|| ScimError::invalid_filter(format!("'{path}' needs a quoted RFC 3339 date-time")))
}

#[cfg(test)]
mod tests {
    use std::fmt::Write;

    use super::*;
    use crate::scim::error::ScimType;
    use crate::scim::filter::parse_filter;
    use crate::scim::filter::parser::{ErrorKind, parse_attr_path_str};
    use crate::scim::schema::{Mutability, Registry, ResourceKind, Returned, Uniqueness};

    /// The columns of a user table, named by what they hold.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Role {
        Id,
        UserName,
        ExternalId,
        DisplayName,
        Active,
        Created,
        LastModified,
    }

    const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
    const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
    const EXT: &str = "urn:example:params:scim:schemas:extension:test:2.0:User";

    const fn col(
        attr: &'static str,
        sub: Option<&'static str>,
        kind: ColumnKind,
        column: Role,
    ) -> Column<Role> {
        Column { attr, sub, kind, column }
    }

    /// Stored like the server's user table; `Storage` is all the planner knows of it.
    const USERS: Storage<Role, ()> = Storage {
        core_urn: USER,
        columns: &[
            col("id", None, ColumnKind::TextExact, Role::Id),
            col("userName", None, ColumnKind::TextCi, Role::UserName),
            col("externalId", None, ColumnKind::TextExact, Role::ExternalId),
            col("displayName", None, ColumnKind::TextCi, Role::DisplayName),
            col("active", None, ColumnKind::Bool, Role::Active),
            col("meta", Some("created"), ColumnKind::Time, Role::Created),
            col("meta", Some("lastModified"), ColumnKind::Time, Role::LastModified),
        ],
        memberships: &[Membership { attribute: "groups", rows: () }],
    };

    const fn def(
        name: &'static str,
        kind: AttrType,
        case_exact: bool,
        multi_valued: bool,
        sub_attributes: &'static [AttributeDef],
    ) -> AttributeDef {
        AttributeDef {
            name,
            kind,
            multi_valued,
            description: "",
            required: false,
            case_exact,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: &[],
            reference_types: &[],
            sub_attributes,
            computed: false,
        }
    }

    const BADGE_SUBS: &[AttributeDef] = &[
        def("value", AttrType::Integer, false, false, &[]),
        def("when", AttrType::DateTime, false, false, &[]),
        def("code", AttrType::String, true, false, &[]),
        def("on", AttrType::Boolean, false, false, &[]),
    ];

    /// An extension with one attribute of each type the value index compares differently.
    const EXT_ATTRS: &[AttributeDef] = &[
        def("badgeNumber", AttrType::Integer, false, false, &[]),
        def("score", AttrType::Decimal, false, false, &[]),
        def("hireDate", AttrType::DateTime, false, false, &[]),
        def("costCode", AttrType::String, true, false, &[]),
        def("vip", AttrType::Boolean, false, false, &[]),
        def("badges", AttrType::Complex, false, true, BADGE_SUBS),
    ];

    /// The built-in user schemas plus `EXT`, whose definitions the tables below spell out.
    struct TestDefs;

    impl Definitions for TestDefs {
        fn find(&self, urn: Option<&str>, name: &str, sub: Option<&str>) -> Option<&AttributeDef> {
            match urn {
                Some(u) if u.eq_ignore_ascii_case(EXT) => {
                    let top = EXT_ATTRS.iter().find(|d| d.name.eq_ignore_ascii_case(name))?;
                    match sub {
                        None => Some(top),
                        Some(sub) => top.sub_attribute(sub),
                    }
                }
                _ => {
                    Registry::builtin().resource(ResourceKind::User).find_attribute(urn, name, sub)
                }
            }
        }
    }

    fn plan(filter: &str) -> ScimResult<Plan<Role, ()>> {
        plan_filter(&USERS, &TestDefs, &parse_filter(filter)?)
    }

    /// A compact text form of a plan, so the tables below read like the filters they test.
    fn show<L>(tree: &Tree<L>, leaf: &dyn Fn(&L, &mut String)) -> String {
        match tree {
            Tree::And(a, b) => format!("({} and {})", show(a, leaf), show(b, leaf)),
            Tree::Or(a, b) => format!("({} or {})", show(a, leaf), show(b, leaf)),
            Tree::Not(a) => format!("not {}", show(a, leaf)),
            Tree::Leaf(l) => {
                let mut out = String::new();
                leaf(l, &mut out);
                out
            }
        }
    }

    fn key(k: &ValueKey) -> String {
        let urn = k.urn.as_ref().map(|u| format!("{u}:")).unwrap_or_default();
        let sub = k.sub.as_ref().map(|s| format!(".{s}")).unwrap_or_default();
        format!("{urn}{}{sub}", k.name)
    }

    fn comparison(c: &Comparison) -> String {
        match c {
            Comparison::Number(op, n) => format!("{op:?} num {n}"),
            Comparison::Bool(b) => format!("= {b}"),
            Comparison::Text { op, operand, case_exact } => {
                format!("{op:?} {} {operand:?}", if *case_exact { "exact" } else { "folded" })
            }
        }
    }

    fn test(t: &Test<Role, ()>, out: &mut String) {
        let text = match t {
            Test::Column(role, ColumnTest::NotNull) => format!("{role:?} not null"),
            Test::Column(role, ColumnTest::Text(op, s)) => format!("{role:?} {op:?} {s:?}"),
            Test::Column(role, ColumnTest::Bool(b)) => format!("{role:?} = {b}"),
            Test::Column(role, ColumnTest::Time(op, ms)) => format!("{role:?} {op:?} {ms}"),
            Test::Member((), None) => "member".to_owned(),
            Test::Member((), Some(id)) => format!("member {id:?}"),
            Test::Value(k, ValueTest::Present { with_subs }) => {
                format!("[{}{}] pr", key(k), if *with_subs { ".*" } else { "" })
            }
            Test::Value(k, ValueTest::Compare(c)) => format!("[{}] {}", key(k), comparison(c)),
            Test::Element(parent, tests) => {
                let element = show(tests, &|e: &ElementTest, out: &mut String| {
                    match &e.comparison {
                        None => write!(out, "{} pr", e.sub),
                        Some(c) => write!(out, "{} {}", e.sub, comparison(c)),
                    }
                    .unwrap()
                });
                format!("[{}][{element}]", key(parent))
            }
        };
        out.push_str(&text);
    }

    #[test]
    fn plans_each_kind_of_storage() {
        let dated = "\"2026-01-01T02:00:00+02:00\"";
        let cases: Vec<(String, &str)> = [
            // Dedicated columns: case-insensitive text is lower-cased, exact text kept.
            ("userName eq \"Bob@X\"", "UserName Eq \"bob@x\""),
            ("USERNAME co \"Ab%\"", "UserName Co \"ab%\""),
            ("userName sw \"a\"", "UserName Sw \"a\""),
            ("displayName ew \"Z\"", "DisplayName Ew \"z\""),
            ("displayName gt \"M\"", "DisplayName Gt \"m\""),
            (
                "userName ge \"a\" and userName lt \"b\"",
                "(UserName Ge \"a\" and UserName Lt \"b\")",
            ),
            ("userName le \"b\"", "UserName Le \"b\""),
            ("externalId eq \"AbC\"", "ExternalId Eq \"AbC\""),
            ("id eq \"AbC\"", "Id Eq \"AbC\""),
            ("userName ne \"bob\"", "not UserName Eq \"bob\""),
            ("externalId pr", "ExternalId not null"),
            ("externalId eq null", "not ExternalId not null"),
            ("active eq true", "Active = true"),
            ("active ne false", "not Active = false"),
            (&format!("{USER}:userName eq \"A\""), "UserName Eq \"a\""),
            // Times: any offset, as Unix milliseconds.
            (&format!("meta.created gt {dated}"), "Created Gt 1767225600000"),
            (&format!("meta.lastModified le {dated}"), "LastModified Le 1767225600000"),
            (&format!("META.CREATED eq {dated}"), "Created Eq 1767225600000"),
            (&format!("meta.created ne {dated}"), "not Created Eq 1767225600000"),
            ("meta.created pr", "Created not null"),
            // Memberships.
            ("groups eq \"g1\"", "member \"g1\""),
            ("groups.value eq \"g1\"", "member \"g1\""),
            ("groups.value ne \"g1\"", "not member \"g1\""),
            ("groups pr", "member"),
            ("groups eq null", "not member"),
            ("groups[value eq \"g1\"]", "member \"g1\""),
            // The value index: strings fold case unless caseExact.
            ("title eq \"Boss\"", "[title] Eq folded \"boss\""),
            ("name.familyName co \"J\"", "[name.familyName] Co folded \"j\""),
            ("emails co \"X\"", "[emails.value] Co folded \"x\""),
            ("emails.type eq \"Work\"", "[emails.type] Eq folded \"work\""),
            ("title pr", "[title.*] pr"),
            ("name.givenName pr", "[name.givenName] pr"),
            ("title eq null", "not [title.*] pr"),
            ("title ne \"x\"", "not [title] Eq folded \"x\""),
            ("emails.primary eq true", "[emails.primary] = true"),
            ("x509Certificates sw \"MII\"", "[x509Certificates.value] Sw folded \"mii\""),
            (&format!("{EXT}:costCode eq \"Ab\""), "[EXT:costCode] Eq exact \"Ab\""),
            (&format!("{EXT}:costCode ge \"Ab\""), "[EXT:costCode] Ge exact \"Ab\""),
            // Numbers and dateTimes compare as numbers.
            (&format!("{EXT}:badgeNumber gt 5"), "[EXT:badgeNumber] Gt num 5"),
            (&format!("{EXT}:badgeNumber eq 1e3"), "[EXT:badgeNumber] Eq num 1000"),
            (&format!("{EXT}:score le -1.5"), "[EXT:score] Le num -1.5"),
            (&format!("{EXT}:badgeNumber ne 5"), "not [EXT:badgeNumber] Eq num 5"),
            (&format!("{EXT}:hireDate lt {dated}"), "[EXT:hireDate] Lt num 1767225600000"),
            (&format!("{EXT}:vip eq false"), "[EXT:vip] = false"),
            (&format!("{EXT}:badges gt 2"), "[EXT:badges.value] Gt num 2"),
            (&format!("{EXT}:badges.when ge {dated}"), "[EXT:badges.when] Ge num 1767225600000"),
            // Attributes of no schema compare by the operand's type.
            ("nothing eq 5", "[nothing] Eq num 5"),
            ("nothing lt 5", "[nothing] Lt num 5"),
            ("nothing eq true", "[nothing] = true"),
            ("nothing eq \"A\"", "[nothing] Eq folded \"a\""),
            // Other URNs are extensions (also a core URN of another resource type).
            (&format!("{GROUP}:displayName eq \"A\""), "[GROUP:displayName] Eq folded \"a\""),
            // Value paths: one element passes every test.
            (
                "emails[type eq \"Work\" and value co \"@X\"]",
                "[emails][(type Eq folded \"work\" and value Co folded \"@x\")]",
            ),
            ("emails[not (primary eq true)]", "[emails][not primary = true]"),
            (
                "emails[type ne \"work\" or value pr]",
                "[emails][(not type Eq folded \"work\" or value pr)]",
            ),
            ("emails[display eq null]", "[emails][not display pr]"),
            (&format!("{EXT}:badges[value ge 3]"), "[EXT:badges][value Ge num 3]"),
            (&format!("{EXT}:badges[code eq \"Q\"]"), "[EXT:badges][code Eq exact \"Q\"]"),
            (&format!("{EXT}:badges[when lt {dated}]"), "[EXT:badges][when Lt num 1767225600000]"),
            (&format!("{USER}:emails[type pr]"), "[emails][type pr]"),
            // Logic.
            (
                "not (userName eq \"a\") or active eq true and title pr",
                "(not UserName Eq \"a\" or (Active = true and [title.*] pr))",
            ),
        ]
        .into_iter()
        .map(|(f, e)| (f.to_string(), e))
        .collect();
        for (filter, expected) in cases {
            let got = plan(&filter).map(|p| show(&p, &test));
            let expected = expected.replace("EXT", EXT).replace("GROUP", GROUP);
            assert_eq!(got.as_deref().ok(), Some(expected.as_str()), "{filter}: {got:?}");
        }
    }

    #[test]
    fn every_scim_error_is_raised_here() {
        let cases: Vec<(String, &str)> = [
            ("userName eq 5", "'userName' is a string attribute; compare it with a quoted string"),
            ("userName ne null", "'userName' is a string attribute; compare it with a quoted string"),
            ("userName gt null", "'userName' cannot be compared with null using this operator"),
            ("active eq \"yes\"", "'active' is a boolean: compare it with eq true or eq false"),
            ("active gt true", "'active' is a boolean: compare it with eq true or eq false"),
            ("meta.created gt \"yesterday\"", "'meta.created' needs a quoted RFC 3339 date-time"),
            ("meta.created co \"2026\"", "'meta.created' needs a quoted RFC 3339 date-time"),
            (
                "meta.created co \"2026-01-01T00:00:00Z\"",
                "'meta.created' is a dateTime; co, sw and ew do not apply",
            ),
            (
                "meta.location eq \"x\"",
                "filtering on 'meta.location' is not supported; use meta.created or meta.lastModified",
            ),
            (
                "meta pr",
                "filtering on 'meta' is not supported; use meta.created or meta.lastModified",
            ),
            ("groups.display eq \"x\"", "groups can be filtered on groups.value only"),
            ("groups co \"x\"", "groups supports 'pr' and 'eq' on groups.value"),
            ("groups.value eq 5", "groups supports 'pr' and 'eq' on groups.value"),
            ("groups[value ne \"g\"]", "groups supports 'pr' and 'eq' on groups.value"),
            ("groups[type eq \"direct\"]", "groups[…] supports only 'value eq \"id\"'"),
            ("GROUPS[value eq \"g\" or value eq \"h\"]", "GROUPS[…] supports only 'value eq \"id\"'"),
            (&format!("{EXT}:badgeNumber co 5"), "'EXT:badgeNumber' is a number; co, sw and ew do not apply"),
            (
                &format!("{EXT}:badgeNumber eq \"1\""),
                "'EXT:badgeNumber' is a number; compare it with an unquoted number",
            ),
            (&format!("{EXT}:hireDate gt \"yesterday\""), "'EXT:hireDate' needs a quoted RFC 3339 date-time"),
            (&format!("{EXT}:hireDate sw \"2026\""), "'EXT:hireDate' is a dateTime; co, sw and ew do not apply"),
            (&format!("{EXT}:vip eq 1"), "'EXT:vip' is a boolean: compare it with eq true or eq false"),
            ("nothing gt true", "booleans can only be compared with eq or ne"),
            ("nothing co 5", "'nothing' is compared with a number; co, sw and ew do not apply"),
            ("title ne null", "null cannot be compared"),
            ("emails[value.x eq \"a\"]", "'value.x' inside [ ] must be a plain sub-attribute name"),
            (&format!("emails[{USER}:type pr]"), "'USER:type' inside [ ] must be a plain sub-attribute name"),
            ("emails[type gt null]", "'type' cannot be compared with null using this operator"),
            (&format!("{EXT}:badges[value co 1]"), "'value' is a number; co, sw and ew do not apply"),
            (&format!("{EXT}:badges[on lt true]"), "'on' is a boolean: compare it with eq true or eq false"),
        ]
        .into_iter()
        .map(|(f, e)| (f.to_string(), e))
        .collect();
        for (filter, expected) in cases {
            let err = plan(&filter).err().unwrap_or_else(|| panic!("{filter} planned"));
            let expected = expected.replace("EXT", EXT).replace("USER", USER);
            assert_eq!(
                (err.status, err.scim_type),
                (400, Some(ScimType::InvalidFilter)),
                "{filter}"
            );
            assert_eq!(err.detail, expected, "{filter}");
        }
    }

    #[test]
    fn plans_sorting() {
        let sort = |by: &str, descending| {
            let by = parse_attr_path_str(by, ErrorKind::Filter)?;
            plan_sort(&USERS, &TestDefs, &Sort { by, descending })
        };
        let value = |k: &str, v| {
            let (name, sub) = k.split_once('.').map_or((k, None), |(n, s)| (n, Some(s.to_owned())));
            SortBy::Value(ValueKey { urn: None, name: name.to_owned(), sub }, v)
        };
        let ext = |name: &str, v| {
            SortBy::Value(
                ValueKey { urn: Some(EXT.to_owned()), name: name.to_owned(), sub: None },
                v,
            )
        };
        let cases = [
            ("userName", SortBy::Column(Role::UserName)),
            ("meta.lastModified", SortBy::Column(Role::LastModified)),
            ("title", value("title", SortValue::Folded)),
            ("emails", value("emails.value", SortValue::Folded)),
            ("x509Certificates", value("x509Certificates.value", SortValue::Folded)),
            ("name.familyName", value("name.familyName", SortValue::Folded)),
            (&format!("{EXT}:badgeNumber"), ext("badgeNumber", SortValue::Number)),
            (&format!("{EXT}:hireDate"), ext("hireDate", SortValue::Number)),
            (&format!("{EXT}:costCode"), ext("costCode", SortValue::Exact)),
        ];
        for (by, expected) in cases {
            for descending in [false, true] {
                let got = sort(by, descending);
                assert_eq!(got.ok(), Some(SortPlan { by: expected.clone(), descending }), "{by}");
            }
        }
        for bad in ["groups", "groups.value", "meta", "meta.version"] {
            let err = sort(bad, false).err().unwrap_or_else(|| panic!("{bad} sorted"));
            assert_eq!(err.detail, format!("cannot sort by '{bad}'"));
            assert_eq!(err.scim_type, Some(ScimType::InvalidValue));
        }
    }
}
