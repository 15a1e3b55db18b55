//! scimd: a SCIM 2.0 service provider (RFC 7643/7644) for Okta and Microsoft Entra ID, with
//! per-tenant isolation, on SQLite or PostgreSQL.

pub mod audit;
pub mod cidr;
pub mod clock;
pub mod config;
pub mod db;
pub mod http;
pub mod metrics;
pub mod oauth;
pub mod scim;
pub mod selftest;
pub mod service;
pub mod startup;
pub mod text_table;
pub mod tls;
