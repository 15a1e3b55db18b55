//! Repositories: one module per aggregate, plain functions over a `DbConnection`, always scoped by
//! tenant. They return diesel errors; services decide what those mean.

pub mod activity;
pub mod admins;
pub mod audit;
pub mod keys;
pub mod memberships;
pub mod oauth;
pub mod operators;
pub mod rate_limits;
pub mod resources;
pub mod tenants;
pub mod tokens;
pub mod values;
