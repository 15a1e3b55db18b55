//! RFC 7644 §3.4.2.2 filters: syntax tree, parser, in-memory evaluator and the storage planner.

pub mod ast;
pub mod eval;
pub mod parser;
pub mod plan;

pub use ast::{
    AttrPath, CORE_SCHEMA_PREFIX, CompValue, CompareOp, Expr, Filter, NoValuePath, ValueFilter,
    ValuePath, is_core_urn,
};
pub use eval::matches;
pub use parser::{MAX_FILTER_DEPTH, MAX_FILTER_HEIGHT, MAX_FILTER_LEN, parse_filter};
