//! Abstract syntax of the RFC 7644 §3.4.2.2 filter language, with a canonical `Display` that the
//! parser reads back to the identical tree.

use std::fmt;

/// Namespace of every core schema; a path qualified with one of these addresses the top level.
pub const CORE_SCHEMA_PREFIX: &str = "urn:ietf:params:scim:schemas:core:2.0:";

/// `[urn ":"] name ["." sub]`; names keep the client's spelling and are compared case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttrPath {
    /// Schema URN prefix without the trailing `:`, e.g. the enterprise extension URN.
    pub urn: Option<String>,
    pub name: String,
    pub sub: Option<String>,
}

impl AttrPath {
    /// An unqualified top-level attribute, e.g. `userName`.
    pub fn new(name: impl Into<String>) -> Self {
        AttrPath { urn: None, name: name.into(), sub: None }
    }

    /// The same attribute narrowed to one sub-attribute, e.g. `emails` → `emails.value`.
    pub fn with_sub(&self, sub: impl Into<String>) -> Self {
        AttrPath { urn: self.urn.clone(), name: self.name.clone(), sub: Some(sub.into()) }
    }

    /// The attribute itself without any sub-attribute, e.g. `name.givenName` → `name`.
    pub fn parent(&self) -> Self {
        AttrPath { urn: self.urn.clone(), name: self.name.clone(), sub: None }
    }

    /// True when the path lives at the resource's top level: no URN or a core-schema URN.
    pub fn is_core(&self) -> bool {
        self.urn.as_deref().is_none_or(is_core_urn)
    }
}

/// True for any `urn:ietf:params:scim:schemas:core:2.0:*` URN (case-insensitive).
pub fn is_core_urn(urn: &str) -> bool {
    urn.get(..CORE_SCHEMA_PREFIX.len()).is_some_and(|p| p.eq_ignore_ascii_case(CORE_SCHEMA_PREFIX))
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// The binary attribute operators of RFC 7644 table 3 (`pr` is [`Filter::Present`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    /// Canonical lower-case keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// Case-insensitive keyword lookup; `None` for anything else (including `pr`).
    pub fn from_keyword(word: &str) -> Option<Self> {
        const ALL: [CompareOp; 9] = [
            CompareOp::Eq,
            CompareOp::Ne,
            CompareOp::Co,
            CompareOp::Sw,
            CompareOp::Ew,
            CompareOp::Gt,
            CompareOp::Ge,
            CompareOp::Lt,
            CompareOp::Le,
        ];
        ALL.into_iter().find(|op| op.as_str().eq_ignore_ascii_case(word))
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The literal on the right of a comparison (RFC 7644 `compValue`).
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    Str(String),
}

impl CompValue {
    /// The literal as JSON, e.g. to seed a new multi-valued element from an `eq` filter.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            CompValue::Null => serde_json::Value::Null,
            CompValue::Bool(b) => serde_json::Value::Bool(*b),
            CompValue::Number(n) => serde_json::Value::Number(n.clone()),
            CompValue::Str(s) => serde_json::Value::String(s.clone()),
        }
    }
}

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompValue::Null => f.write_str("null"),
            CompValue::Bool(b) => write!(f, "{b}"),
            CompValue::Number(n) => write!(f, "{n}"),
            // serde_json's serializer produces exactly the JSON escapes the parser accepts.
            CompValue::Str(s) => write!(f, "{}", serde_json::Value::String(s.clone())),
        }
    }
}

/// A parsed filter expression. `V` is what may stand where a value path would: [`ValuePath`] at
/// the top of a filter, [`NoValuePath`] inside its brackets, so a value path nested in a value path
/// cannot be built at all and the parser is the one place that refuses it. Parentheses leave no
/// trace; `Display` re-inserts the ones needed.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr<V> {
    Compare { path: AttrPath, op: CompareOp, value: CompValue },
    Present(AttrPath),
    And(Box<Expr<V>>, Box<Expr<V>>),
    Or(Box<Expr<V>>, Box<Expr<V>>),
    Not(Box<Expr<V>>),
    ValuePath(V),
}

/// A filter as a client sends it in `filter=` or `/.search`.
pub type Filter = Expr<ValuePath>;

/// What stands inside `attr[…]`: paths relative to `attr`, and no further value path.
pub type ValueFilter = Expr<NoValuePath>;

/// `emails[type eq "work"]`: inner paths are relative to `attr` (inner `type` has name "type").
#[derive(Debug, Clone, PartialEq)]
pub struct ValuePath {
    pub attr: AttrPath,
    pub filter: Box<ValueFilter>,
}

/// The empty type: a [`ValueFilter`] has no value with which to hold a value path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoValuePath {}

/// What a filter can hold in place of a value path; lets one tree type serve both levels.
pub trait Nested: fmt::Display {
    /// Height of the nested part (the bracketed filter counts one level more).
    fn depth(&self) -> usize;
}

impl Nested for ValuePath {
    fn depth(&self) -> usize {
        1 + self.filter.depth()
    }
}

impl Nested for NoValuePath {
    fn depth(&self) -> usize {
        match *self {}
    }
}

impl fmt::Display for ValuePath {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(out, "{}[{}]", self.attr, self.filter)
    }
}

impl fmt::Display for NoValuePath {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {}
    }
}

impl<V: Nested> Expr<V> {
    /// Height of the tree (a leaf is 1); the parser keeps this within `MAX_FILTER_HEIGHT`.
    pub fn depth(&self) -> usize {
        match self {
            Expr::Compare { .. } | Expr::Present(_) => 1,
            Expr::And(l, r) | Expr::Or(l, r) => 1 + l.depth().max(r.depth()),
            Expr::Not(f) => 1 + f.depth(),
            Expr::ValuePath(v) => v.depth(),
        }
    }
}

impl ValueFilter {
    /// The same tree as a top-level [`Filter`], e.g. for a PATCH path's value filter. Nothing is
    /// lost: a value filter has no value path to convert.
    pub fn into_filter(self) -> Filter {
        match self {
            Expr::Compare { path, op, value } => Expr::Compare { path, op, value },
            Expr::Present(path) => Expr::Present(path),
            Expr::And(l, r) => Expr::And(Box::new(l.into_filter()), Box::new(r.into_filter())),
            Expr::Or(l, r) => Expr::Or(Box::new(l.into_filter()), Box::new(r.into_filter())),
            Expr::Not(f) => Expr::Not(Box::new(f.into_filter())),
            Expr::ValuePath(never) => match never {},
        }
    }
}

/// Binding strength used to decide where `Display` needs parentheses.
fn precedence<V>(f: &Expr<V>) -> u8 {
    match f {
        Expr::Or(..) => 1,
        Expr::And(..) => 2,
        _ => 3,
    }
}

/// Writes `f`, parenthesised when it binds looser than `min` requires.
fn write_operand<V: Nested>(out: &mut fmt::Formatter<'_>, f: &Expr<V>, min: u8) -> fmt::Result {
    if precedence(f) < min { write!(out, "({f})") } else { write!(out, "{f}") }
}

impl<V: Nested> fmt::Display for Expr<V> {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Compare { path, op, value } => write!(out, "{path} {op} {value}"),
            Expr::Present(path) => write!(out, "{path} pr"),
            // Both operators are left-associative: a right operand of the same kind needs parens.
            Expr::And(l, r) => {
                write_operand(out, l, 2)?;
                out.write_str(" and ")?;
                write_operand(out, r, 3)
            }
            Expr::Or(l, r) => {
                write_operand(out, l, 1)?;
                out.write_str(" or ")?;
                write_operand(out, r, 2)
            }
            Expr::Not(f) => write!(out, "not ({f})"),
            Expr::ValuePath(v) => write!(out, "{v}"),
        }
    }
}
