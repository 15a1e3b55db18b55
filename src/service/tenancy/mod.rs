//! Tenancy: the customer organisations (tenants) and their static SCIM tokens, with the SCIM
//! principal a credential stands for; and the vendor's API keys for `/api/v1`.

pub mod api_keys;
pub mod credentials;
pub mod health;
pub mod tenants;
