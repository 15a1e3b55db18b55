//! Reading the event log: pages after a cursor, oldest first, and the JSON an event has in the
//! events API and in webhooks alike.

use serde::Serialize;
use serde_json::{Value, json};

use super::outbox::TypeFilter;
use crate::clock::to_rfc3339;
use crate::db::repo::events::{self, EventRow, FeedQuery};
use crate::db::{Database, StoreError};

/// At most this many events a page.
pub const MAX_LIMIT: i64 = 1_000;

/// An opaque position in the feed (the position of the last event a reader has seen).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor(i64);

impl Cursor {
    /// Before the first event.
    pub const START: Cursor = Cursor(0);

    pub fn parse(text: &str) -> Option<Cursor> {
        let digits = text.strip_prefix("c")?;
        if digits.is_empty() || digits.len() > 19 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok().map(Cursor)
    }

    pub fn position(self) -> i64 {
        self.0
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "c{}", self.0)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// Events after the cursor were deleted by retention: the reader has lost some.
    #[error(
        "events after this cursor were deleted by retention; start again from the directory API"
    )]
    Gone,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One page of the feed.
#[derive(Debug, Clone, Serialize)]
pub struct FeedPage {
    pub data: Vec<Value>,
    pub next_cursor: String,
    pub has_more: bool,
}

/// What to read: after `cursor`, of one tenant or all, of some types.
#[derive(Debug, Clone)]
pub struct Reading<'a> {
    pub after: Cursor,
    pub tenant_id: Option<&'a str>,
    pub types: &'a TypeFilter,
    pub limit: i64,
}

pub fn page(db: &Database, reading: &Reading<'_>) -> Result<FeedPage, FeedError> {
    let limit = reading.limit.clamp(1, MAX_LIMIT);
    let names = (!reading.types.is_all()).then(|| reading.types.names());
    let query = FeedQuery {
        after: reading.after.position(),
        tenant_id: reading.tenant_id,
        types: names.as_deref(),
        limit: limit + 1,
    };
    let (rows, pruned) = db.read(|conn| -> Result<_, StoreError> {
        Ok((events::page(conn, &query)?, events::pruned_through(conn)?))
    })?;
    // A cursor taken before pruning began (0, the start) is not stale: it asks for what is kept.
    if reading.after != Cursor::START && reading.after.position() < pruned {
        return Err(FeedError::Gone);
    }
    let has_more = rows.len() as i64 > limit;
    let rows = &rows[..rows.len().min(limit as usize)];
    let last = rows.last().and_then(|row| row.position).map_or(reading.after, Cursor);
    Ok(FeedPage {
        data: rows.iter().map(event_json).collect(),
        next_cursor: last.to_string(),
        has_more,
    })
}

/// The cursor of the newest event right now: where a reader that wants only new events starts.
pub fn latest(db: &Database) -> Result<Cursor, StoreError> {
    db.read(|conn| Ok::<_, StoreError>(Cursor(events::head(conn)?)))
}

/// An event as readers and webhook receivers get it.
pub fn event_json(row: &EventRow) -> Value {
    let row = &row.event;
    let data: Value = serde_json::from_str(&row.data).unwrap_or(Value::Null);
    json!({
        "id": row.id,
        "type": row.event_type,
        "tenant": row.tenant_slug,
        "occurred_at": to_rfc3339(row.occurred_at),
        "resource_id": row.resource_id,
        "version": row.resource_version,
        "data": data,
    })
}

#[cfg(test)]
mod tests {
    use super::Cursor;

    #[test]
    fn cursors_round_trip_and_refuse_anything_else() {
        for n in [0, 1, 42, i64::MAX] {
            assert_eq!(Cursor::parse(&Cursor(n).to_string()), Some(Cursor(n)));
        }
        for bad in ["", "c", "42", "c-1", "c1x", "c99999999999999999999", "C1", "c 1"] {
            assert_eq!(Cursor::parse(bad), None, "{bad}");
        }
    }
}
