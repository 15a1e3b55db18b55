//! The directory as the vendor's application reads it: `read` (the directory API's use cases,
//! cursor-paged and confined to what the API key may see) and `cursor` (opaque page cursors).

pub mod cursor;
pub mod read;
