//! Integration tests: the real server on a random port, a real database per test, HTTP only.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod auth;
mod availability;
mod bad_input;
mod browser;
mod bulk;
mod cli;
mod console;
mod discovery;
mod equivalence;
mod groups;
mod hardening;
mod helpers;
mod journeys;
mod metrics;
mod migrations;
mod oauth;
mod okta;
mod queries;
mod tls;
mod users;
#[allow(dead_code)]
mod webdriver;
