//! Plans a filter or sort against how a resource is stored: resolves each attribute, checks operand
//! types and raises every SCIM error, so the SQL emitter in `db/` only writes text and cannot fail.

use super::ast::{AttrPath, CompValue, CompareOp, Expr, Filter, ValueFilter, ValuePath};
use crate::clock::parse_rfc3339;
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::query::Sort;
use crate::scim::schema::{AttrType, AttributeDef, ResourceKind, find_attribute};

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

/// The attribute answered from membership rows (`groups` on users, `members` on groups); `M` is
/// the storage's handle for those rows.
#[derive(Debug, Clone, Copy)]
pub struct Membership<M> {
    pub attribute: &'static str,
    pub rows: M,
}

/// How one resource type is stored, in SCIM terms: everything else lives in the value index.
#[derive(Debug, Clone, Copy)]
pub struct Storage<C: 'static, M> {
    pub core_urn: &'static str,
    /// Names are matched case-insensitively.
    pub columns: &'static [Column<C>],
    pub membership: Option<Membership<M>>,
}

/// Where the planner reads attribute types: the schema registry in the server, a table in tests.
pub trait Definitions {
    fn find(&self, urn: Option<&str>, name: &str, sub: Option<&str>) -> Option<&AttributeDef>;
}

impl Definitions for ResourceKind {
    fn find(&self, urn: Option<&str>, name: &str, sub: Option<&str>) -> Option<&AttributeDef> {
        find_attribute(*self, urn, name, sub)
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
pub fn plan_filter<C: Copy + 'static, M: Copy>(
    storage: &Storage<C, M>,
    defs: &dyn Definitions,
    filter: &Filter,
) -> ScimResult<Plan<C, M>> {
    Planner { storage, defs }.filter(filter)
}

/// Plans `sortBy` (RFC 7644 §3.4.2.3) over resources stored as `storage`.
pub fn plan_sort<C: Copy + 'static, M: Copy>(
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

struct Planner<'a, C: 'static, M> {
    storage: &'a Storage<C, M>,
    defs: &'a dyn Definitions,
}

/// Plans the comparisons and presence tests of one level of a filter, whatever its leaves are.
/// `ne` becomes `not eq` and `eq null` becomes `not pr` (RFC 7643 §2.5), before `leaf` sees them.
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

impl<C: Copy + 'static, M: Copy> Planner<'_, C, M> {
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
        self.storage.membership.filter(|m| path.name.eq_ignore_ascii_case(m.attribute))
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
