//! Operations: each tenant's SCIM activity (the console's status line), reading the audit trail,
//! and the request budgets every node shares.

pub mod activity;
pub mod audit_log;
pub mod doctor;
pub mod housekeeping;
pub mod inspector;
pub mod rate_limit;
pub mod request_changes;
pub mod tenant_slots;
