//! Webhooks: endpoints and their secrets (`endpoints`), Standard Webhooks signing (`signing`),
//! which targets may be called (`targets`), and the delivery loop every node runs (`worker`).

pub mod endpoints;
pub mod signing;
pub mod targets;
pub mod worker;
