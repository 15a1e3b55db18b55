//! The directory as the vendor's application reads it: `view` (the JSON shape of users, groups
//! and members, shared by the directory API and the event log), `read` (the directory API's use
//! cases, cursor-paged and confined to what the API key may see) and `cursor` (opaque page
//! cursors).

pub mod cursor;
pub mod read;
pub mod view;
