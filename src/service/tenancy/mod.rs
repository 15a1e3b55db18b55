//! Tenancy: the customer organisations (tenants) and their static SCIM tokens, with the SCIM
//! principal a credential stands for.

pub mod credentials;
pub mod tenants;
