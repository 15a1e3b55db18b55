//! The directory as the vendor's application reads it: `view` (the JSON shape of users, groups
//! and members, shared by the directory API and the event log).

pub mod view;
