//! The SCIM protocol, pure: schemas, resource validation, filters, PATCH, list queries, errors.
//! Nothing here knows about HTTP or SQL.

pub mod bulk;
pub mod catalog;
pub mod custom_schema;
pub mod diff;
pub mod discovery;
pub mod error;
pub mod filter;
pub mod hints;
pub mod list_patch;
pub mod patch;
pub mod path;
pub mod query;
pub mod resource;
pub mod schema;
pub mod version;
