//! Integration tests: the real server on a random port, a real database per test, HTTP only.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod auth;
mod availability;
mod bad_input;
mod browser;
mod bulk;
mod cli;
mod console;
mod console_entra;
mod directory;
mod discovery;
mod edge;
mod entitlements;
mod entra;
mod equivalence;
mod events;
mod fleet;
mod groups;
mod hardening;
mod housekeeping;
mod inspector;
mod journeys;
mod metrics;
mod migrations;
mod oauth;
mod oauth_hardening;
mod offboarding;
mod queries;
mod snapshots;
mod support;
mod tls;
mod users;
mod webhooks;
