//! Repositories: one module per aggregate, plain functions over a `DbConnection`, always scoped by
//! tenant. They return diesel errors; services decide what those mean.

pub mod accounts;
pub mod activity;
pub mod api_keys;
pub mod assignments;
pub mod audit;
pub mod catalog;
pub mod client_credentials;
pub mod directory;
pub mod events;
pub mod keys;
pub mod memberships;
pub mod oauth;
pub mod rate_limits;
pub mod request_log;
pub mod resources;
pub mod retention;
pub mod secrets;
pub mod sessions;
pub mod tenants;
pub mod throttle;
pub mod tokens;
pub mod values;
pub mod webhooks;
