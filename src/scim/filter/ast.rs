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

/// A parsed filter. Parentheses leave no trace; `Display` re-inserts the ones needed.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: CompValue,
    },
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `emails[type eq "work"]`: inner paths are relative to `attr` (inner `type` has name "type").
    ValuePath {
        attr: AttrPath,
        filter: Box<Filter>,
    },
}

impl Filter {
    /// Height of the tree (a leaf is 1); the parser keeps this within `MAX_FILTER_HEIGHT`.
    pub fn depth(&self) -> usize {
        match self {
            Filter::Compare { .. } | Filter::Present(_) => 1,
            Filter::And(l, r) | Filter::Or(l, r) => 1 + l.depth().max(r.depth()),
            Filter::Not(f) | Filter::ValuePath { filter: f, .. } => 1 + f.depth(),
        }
    }
}

/// Binding strength used to decide where `Display` needs parentheses.
fn precedence(f: &Filter) -> u8 {
    match f {
        Filter::Or(..) => 1,
        Filter::And(..) => 2,
        _ => 3,
    }
}

/// Writes `f`, parenthesised when it binds looser than `min` requires.
fn write_operand(out: &mut fmt::Formatter<'_>, f: &Filter, min: u8) -> fmt::Result {
    if precedence(f) < min { write!(out, "({f})") } else { write!(out, "{f}") }
}

impl fmt::Display for Filter {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Compare { path, op, value } => write!(out, "{path} {op} {value}"),
            Filter::Present(path) => write!(out, "{path} pr"),
            // Both operators are left-associative: a right operand of the same kind needs parens.
            Filter::And(l, r) => {
                write_operand(out, l, 2)?;
                out.write_str(" and ")?;
                write_operand(out, r, 3)
            }
            Filter::Or(l, r) => {
                write_operand(out, l, 1)?;
                out.write_str(" or ")?;
                write_operand(out, r, 2)
            }
            Filter::Not(f) => write!(out, "not ({f})"),
            Filter::ValuePath { attr, filter } => write!(out, "{attr}[{filter}]"),
        }
    }
}
