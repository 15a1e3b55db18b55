//! Delivering the directory to the vendor's app: the event log written with every change
//! (`outbox`), the sequencer that gives committed events their feed positions (`sequencer`), and
//! reading the feed (`feed`).

pub mod feed;
pub mod outbox;
pub mod sequencer;
pub mod webhooks;
