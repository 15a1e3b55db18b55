//! Webhook endpoints, their per-tenant delivery cursors (claimed with a lease, so nodes share
//! the work and only one delivers a cursor at a time), the delivery attempts, and the replay
//! queue.

use diesel::dsl::{count_star, min};
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{
    events, webhook_cursors, webhook_deliveries, webhook_endpoints, webhook_replays,
};

/// `Debug` leaves the secrets out.
#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_endpoints)]
pub struct EndpointRow {
    pub id: String,
    pub url: String,
    pub tenant_id: Option<String>,
    pub event_types: String,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_until: Option<i64>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub fanout_position: i64,
    pub created_at: i64,
}

impl std::fmt::Debug for EndpointRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointRow")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("tenant_id", &self.tenant_id)
            .field("event_types", &self.event_types)
            .field("secret", &"<redacted>")
            .field("previous_until", &self.previous_until)
            .field("enabled", &self.enabled)
            .field("disabled_reason", &self.disabled_reason)
            .field("fanout_position", &self.fanout_position)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_cursors)]
pub struct CursorRow {
    pub endpoint_id: String,
    pub tenant_id: String,
    pub position: i64,
    pub pending: bool,
    pub attempts: i64,
    pub failing_since: Option<i64>,
    pub next_attempt_at: i64,
    pub lease_owner: Option<String>,
    pub lease_until: i64,
}

#[derive(Debug, Clone, Insertable, Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries)]
pub struct NewDeliveryRow {
    pub endpoint_id: String,
    pub event_id: String,
    pub tenant_id: String,
    pub attempt: i64,
    pub outcome: String,
    pub status_code: Option<i64>,
    pub latency_ms: i64,
    pub response_body: Option<String>,
    pub at: i64,
}

/// A delivery attempt as read back: its place in the log and what was recorded.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries)]
pub struct DeliveryRow {
    pub seq: i64,
    #[diesel(embed)]
    pub delivery: NewDeliveryRow,
}

// Endpoints.

pub fn insert_endpoint(conn: &mut DbConnection, row: &EndpointRow) -> QueryResult<()> {
    diesel::insert_into(webhook_endpoints::table).values(row).execute(conn).map(|_| ())
}

pub fn find_endpoint(conn: &mut DbConnection, id: &str) -> QueryResult<Option<EndpointRow>> {
    webhook_endpoints::table.find(id).select(EndpointRow::as_select()).get_result(conn).optional()
}

pub fn list_endpoints(conn: &mut DbConnection) -> QueryResult<Vec<EndpointRow>> {
    webhook_endpoints::table
        .order((webhook_endpoints::created_at, webhook_endpoints::id))
        .select(EndpointRow::as_select())
        .load(conn)
}

pub fn enabled_endpoints(conn: &mut DbConnection) -> QueryResult<Vec<EndpointRow>> {
    webhook_endpoints::table
        .filter(webhook_endpoints::enabled.eq(true))
        .order(webhook_endpoints::id)
        .select(EndpointRow::as_select())
        .load(conn)
}

pub fn set_enabled(
    conn: &mut DbConnection,
    id: &str,
    enabled: bool,
    reason: Option<&str>,
) -> QueryResult<usize> {
    diesel::update(webhook_endpoints::table.find(id))
        .set((
            webhook_endpoints::enabled.eq(enabled),
            webhook_endpoints::disabled_reason.eq(reason.map(str::to_owned)),
        ))
        .execute(conn)
}

pub fn set_secret(
    conn: &mut DbConnection,
    id: &str,
    secret: &str,
    previous: Option<&str>,
    previous_until: Option<i64>,
) -> QueryResult<usize> {
    diesel::update(webhook_endpoints::table.find(id))
        .set((
            webhook_endpoints::secret.eq(secret),
            webhook_endpoints::previous_secret.eq(previous.map(str::to_owned)),
            webhook_endpoints::previous_until.eq(previous_until),
        ))
        .execute(conn)
}

pub fn delete_endpoint(conn: &mut DbConnection, id: &str) -> QueryResult<usize> {
    // Lock the endpoint's row first (the order fan-out takes: endpoint, then cursors), then the
    // children, then the row itself.
    diesel::update(webhook_endpoints::table.find(id))
        .set(webhook_endpoints::enabled.eq(false))
        .execute(conn)?;
    diesel::delete(webhook_cursors::table.filter(webhook_cursors::endpoint_id.eq(id)))
        .execute(conn)?;
    diesel::delete(webhook_deliveries::table.filter(webhook_deliveries::endpoint_id.eq(id)))
        .execute(conn)?;
    diesel::delete(webhook_replays::table.filter(webhook_replays::endpoint_id.eq(id)))
        .execute(conn)?;
    diesel::delete(webhook_endpoints::table.find(id)).execute(conn)
}

// Fan-out: which tenants have new events for an endpoint.

/// Moves `endpoint`'s fan-out from `from` to `to` (the events in between get a pending cursor
/// per tenant); false when another node moved it first. The conditional update also locks the
/// endpoint's row on PostgreSQL until commit, so fan-outs of one endpoint never interleave.
pub fn fan_out(
    conn: &mut DbConnection,
    endpoint: &EndpointRow,
    to: i64,
    now: i64,
) -> QueryResult<bool> {
    let from = endpoint.fanout_position;
    let moved = diesel::update(
        webhook_endpoints::table
            .find(&endpoint.id)
            .filter(webhook_endpoints::fanout_position.eq(from)),
    )
    .set(webhook_endpoints::fanout_position.eq(to))
    .execute(conn)?;
    if moved == 0 {
        return Ok(false);
    }
    let mut query = events::table
        .filter(events::position.gt(from))
        .filter(events::position.le(to))
        .select(events::tenant_id)
        .distinct()
        .into_boxed();
    if let Some(tenant) = &endpoint.tenant_id {
        query = query.filter(events::tenant_id.eq(tenant.clone()));
    }
    let tenants: Vec<String> = query.load(conn)?;
    for tenant in tenants {
        let woken = diesel::update(
            webhook_cursors::table
                .filter(webhook_cursors::endpoint_id.eq(&endpoint.id))
                .filter(webhook_cursors::tenant_id.eq(&tenant)),
        )
        .set(webhook_cursors::pending.eq(true))
        .execute(conn)?;
        if woken == 0 {
            // A tenant's first events for this endpoint: its cursor starts where this fan-out
            // started, so it delivers exactly the events after `from`.
            let row = CursorRow {
                endpoint_id: endpoint.id.clone(),
                tenant_id: tenant,
                position: from,
                pending: true,
                attempts: 0,
                failing_since: None,
                next_attempt_at: now,
                lease_owner: None,
                lease_until: 0,
            };
            diesel::insert_into(webhook_cursors::table).values(&row).execute(conn)?;
        }
    }
    Ok(true)
}

// Cursors.

/// Pending cursors of enabled endpoints that are due and not leased, oldest due first.
pub fn due_cursors(conn: &mut DbConnection, now: i64, limit: i64) -> QueryResult<Vec<CursorRow>> {
    webhook_cursors::table
        .inner_join(webhook_endpoints::table)
        .filter(webhook_endpoints::enabled.eq(true))
        .filter(webhook_cursors::pending.eq(true))
        .filter(webhook_cursors::next_attempt_at.le(now))
        .filter(webhook_cursors::lease_until.lt(now))
        .order(webhook_cursors::next_attempt_at)
        .limit(limit)
        .select(CursorRow::as_select())
        .load(conn)
}

/// Takes the lease of a cursor if nobody holds it; true when this owner now does.
pub fn claim(
    conn: &mut DbConnection,
    endpoint_id: &str,
    tenant_id: &str,
    owner: &str,
    now: i64,
    until: i64,
) -> QueryResult<bool> {
    let claimed = diesel::update(
        webhook_cursors::table
            .filter(webhook_cursors::endpoint_id.eq(endpoint_id))
            .filter(webhook_cursors::tenant_id.eq(tenant_id))
            .filter(webhook_cursors::lease_until.lt(now)),
    )
    .set((webhook_cursors::lease_owner.eq(owner), webhook_cursors::lease_until.eq(until)))
    .execute(conn)?;
    Ok(claimed == 1)
}

pub fn find_cursor(
    conn: &mut DbConnection,
    endpoint_id: &str,
    tenant_id: &str,
) -> QueryResult<Option<CursorRow>> {
    webhook_cursors::table
        .find((endpoint_id, tenant_id))
        .select(CursorRow::as_select())
        .get_result(conn)
        .optional()
}

/// The cursor `key` (endpoint id, tenant id) while `owner` holds its lease.
macro_rules! held {
    ($key:expr, $owner:expr) => {
        webhook_cursors::table
            .filter(webhook_cursors::endpoint_id.eq($key.0))
            .filter(webhook_cursors::tenant_id.eq($key.1))
            .filter(webhook_cursors::lease_owner.eq($owner))
    };
}

/// An event was delivered (or skipped by the endpoint's filter): the cursor moves past it and
/// the lease is extended. False when the lease was lost (another node took over).
pub fn advance(
    conn: &mut DbConnection,
    key: (&str, &str),
    owner: &str,
    position: i64,
    lease_until: i64,
) -> QueryResult<bool> {
    let moved = diesel::update(held!(key, owner))
        .set((
            webhook_cursors::position.eq(position),
            webhook_cursors::attempts.eq(0),
            webhook_cursors::failing_since.eq(None::<i64>),
            webhook_cursors::lease_until.eq(lease_until),
        ))
        .execute(conn)?;
    Ok(moved == 1)
}

/// A delivery failed: count the attempt, schedule the next one, and release the lease.
pub fn fail(
    conn: &mut DbConnection,
    key: (&str, &str),
    owner: &str,
    attempts: i64,
    failing_since: i64,
    next_attempt_at: i64,
) -> QueryResult<bool> {
    let updated = diesel::update(held!(key, owner))
        .set((
            webhook_cursors::attempts.eq(attempts),
            webhook_cursors::failing_since.eq(Some(failing_since)),
            webhook_cursors::next_attempt_at.eq(next_attempt_at),
            webhook_cursors::lease_owner.eq(None::<String>),
            webhook_cursors::lease_until.eq(0),
        ))
        .execute(conn)?;
    Ok(updated == 1)
}

/// Releases the lease; the cursor stops being pending only if no event is left after it (in
/// the same statement, so an event fanned out meanwhile keeps it pending).
pub fn release(conn: &mut DbConnection, key: (&str, &str), owner: &str) -> QueryResult<()> {
    let cursor = find_cursor(conn, key.0, key.1)?;
    let Some(cursor) = cursor else { return Ok(()) };
    let more = events::table
        .filter(events::tenant_id.eq(key.1))
        .filter(events::position.gt(cursor.position));
    diesel::update(held!(key, owner).filter(diesel::dsl::not(diesel::dsl::exists(more))))
        .set(webhook_cursors::pending.eq(false))
        .execute(conn)?;
    diesel::update(held!(key, owner))
        .set((webhook_cursors::lease_owner.eq(None::<String>), webhook_cursors::lease_until.eq(0)))
        .execute(conn)?;
    Ok(())
}

/// A re-enabled endpoint starts its retries afresh.
pub fn reset_failures(conn: &mut DbConnection, endpoint_id: &str, now: i64) -> QueryResult<usize> {
    diesel::update(webhook_cursors::table.filter(webhook_cursors::endpoint_id.eq(endpoint_id)))
        .set((
            webhook_cursors::attempts.eq(0),
            webhook_cursors::failing_since.eq(None::<i64>),
            webhook_cursors::next_attempt_at.eq(now),
        ))
        .execute(conn)
}

pub fn cursors_of(conn: &mut DbConnection, endpoint_id: &str) -> QueryResult<Vec<CursorRow>> {
    webhook_cursors::table
        .filter(webhook_cursors::endpoint_id.eq(endpoint_id))
        .order(webhook_cursors::tenant_id)
        .select(CursorRow::as_select())
        .load(conn)
}

/// How many events (of `types`, or all) wait for one cursor (up to `through`, the endpoint's
/// fan-out position), and when the oldest occurred.
pub fn backlog(
    conn: &mut DbConnection,
    tenant_id: &str,
    after: i64,
    through: i64,
    types: Option<&[String]>,
) -> QueryResult<(i64, Option<i64>)> {
    let mut query = events::table
        .filter(events::tenant_id.eq(tenant_id.to_owned()))
        .filter(events::position.gt(after))
        .filter(events::position.le(through))
        .select((count_star(), min(events::occurred_at)))
        .into_boxed();
    if let Some(types) = types {
        query = query.filter(events::event_type.eq_any(types.to_vec()));
    }
    query.first(conn)
}

/// Events not yet fanned out for an endpoint.
pub fn unfanned(
    conn: &mut DbConnection,
    endpoint: &EndpointRow,
    types: Option<&[String]>,
) -> QueryResult<(i64, Option<i64>)> {
    let mut query = events::table
        .filter(events::position.gt(endpoint.fanout_position))
        .select((count_star(), min(events::occurred_at)))
        .into_boxed();
    if let Some(types) = types {
        query = query.filter(events::event_type.eq_any(types.to_vec()));
    }
    if let Some(tenant) = &endpoint.tenant_id {
        query = query.filter(events::tenant_id.eq(tenant.clone()));
    }
    query.first(conn)
}

// Deliveries.

pub fn insert_delivery(conn: &mut DbConnection, row: &NewDeliveryRow) -> QueryResult<()> {
    diesel::insert_into(webhook_deliveries::table).values(row).execute(conn).map(|_| ())
}

pub fn recent_deliveries(
    conn: &mut DbConnection,
    endpoint_id: &str,
    limit: i64,
) -> QueryResult<Vec<DeliveryRow>> {
    webhook_deliveries::table
        .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
        .order(webhook_deliveries::seq.desc())
        .limit(limit)
        .select(DeliveryRow::as_select())
        .load(conn)
}

pub fn prune_deliveries(conn: &mut DbConnection, before: i64) -> QueryResult<usize> {
    diesel::delete(webhook_deliveries::table.filter(webhook_deliveries::at.lt(before)))
        .execute(conn)
}

// Replays.

pub fn queue_replay(
    conn: &mut DbConnection,
    endpoint_id: &str,
    event_ids: &[String],
    now: i64,
) -> QueryResult<()> {
    for id in event_ids {
        diesel::insert_into(webhook_replays::table)
            .values((
                webhook_replays::endpoint_id.eq(endpoint_id),
                webhook_replays::event_id.eq(id),
                webhook_replays::requested_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The oldest queued replays: (seq, endpoint id, event id).
pub fn queued_replays(
    conn: &mut DbConnection,
    limit: i64,
) -> QueryResult<Vec<(i64, String, String)>> {
    webhook_replays::table
        .order(webhook_replays::seq)
        .limit(limit)
        .select((webhook_replays::seq, webhook_replays::endpoint_id, webhook_replays::event_id))
        .load(conn)
}

/// Takes one queued replay; true when this caller got it (and must send it).
pub fn take_replay(conn: &mut DbConnection, seq: i64) -> QueryResult<bool> {
    Ok(diesel::delete(webhook_replays::table.find(seq)).execute(conn)? == 1)
}

/// Replays not sent within the retention of deliveries are dropped.
pub fn prune_replays(conn: &mut DbConnection, before: i64) -> QueryResult<usize> {
    diesel::delete(webhook_replays::table.filter(webhook_replays::requested_at.lt(before)))
        .execute(conn)
}

/// Event ids of the events that occurred in `[since, until)`, of one tenant or all, oldest first.
pub fn event_ids_between(
    conn: &mut DbConnection,
    tenant_id: Option<&str>,
    since: i64,
    until: i64,
    limit: i64,
) -> QueryResult<Vec<String>> {
    let mut query = events::table
        .filter(events::position.is_not_null())
        .filter(events::occurred_at.ge(since))
        .filter(events::occurred_at.lt(until))
        .order(events::position)
        .limit(limit)
        .select(events::id)
        .into_boxed();
    if let Some(tenant) = tenant_id {
        query = query.filter(events::tenant_id.eq(tenant.to_owned()));
    }
    query.load(conn)
}

pub fn find_event(
    conn: &mut DbConnection,
    id: &str,
) -> QueryResult<Option<crate::db::repo::events::EventRow>> {
    events::table
        .filter(events::id.eq(id))
        .filter(events::position.is_not_null())
        .select(crate::db::repo::events::EventRow::as_select())
        .get_result(conn)
        .optional()
}
