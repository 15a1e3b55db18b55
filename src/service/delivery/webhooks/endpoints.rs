//! Webhook endpoints as operators manage them (CLI and console): create (the secret is shown
//! then, and stored as is, because signing needs it), list, enable and disable, delete, rotate
//! the secret with a grace period during which both secrets sign, and replay.

use serde::Serialize;

use super::{signing, targets};
use crate::audit::{self, Actor, Event, Kind};
use crate::clock::{Clock, Millis, to_rfc3339};
use crate::db::repo::webhooks::{self as repo, DeliveryRow, EndpointRow};
use crate::db::repo::{events, tenants};
use crate::db::{Database, DbConnection, StoreError};
use crate::service::OperatorError;
use crate::service::delivery::outbox::TypeFilter;

/// At most this many events one replay request queues.
pub const MAX_REPLAY: i64 = 10_000;
/// Longest grace period of a secret rotation.
pub const MAX_GRACE_HOURS: u64 = 24 * 30;

/// An endpoint as created or re-keyed: the only answers that carry the secret (serialised for
/// the operator; `Debug` leaves it out).
#[derive(Serialize)]
pub struct IssuedEndpoint {
    pub id: String,
    pub secret: String,
    pub url: String,
    /// The tenant's slug; absent: every tenant.
    pub tenant: Option<String>,
    pub events: String,
    /// After a rotation: until when the previous secret still signs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_secret_until: Option<String>,
}

impl std::fmt::Debug for IssuedEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedEndpoint")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .field("url", &self.url)
            .field("tenant", &self.tenant)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

/// An endpoint as lists and pages show it (never its secret).
#[derive(Debug, Clone, Serialize)]
pub struct EndpointView {
    pub id: String,
    pub url: String,
    pub tenant: Option<String>,
    pub events: String,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub created: String,
    /// Events waiting for delivery (across its tenants).
    pub pending: i64,
    /// The oldest undelivered event's time, when one waits.
    pub oldest_pending: Option<String>,
    #[serde(skip)]
    pub oldest_pending_ms: Option<Millis>,
    /// The tenant cursor failing longest: since when, and the next retry.
    pub failing_since: Option<String>,
    pub next_retry: Option<String>,
    /// Failed attempts at that cursor's next event.
    pub attempts: i64,
    pub last_delivery: Option<DeliveryView>,
    /// Until when a rotated-out secret still signs.
    pub previous_secret_until: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeliveryView {
    pub event_id: String,
    pub tenant_id: String,
    pub attempt: i64,
    /// `delivered`, `failed` (a non-2xx answer), `error` (no answer), `refused` (target not
    /// allowed), `replayed`, `replay_failed`.
    pub outcome: String,
    pub status_code: Option<i64>,
    pub latency_ms: i64,
    pub response_body: Option<String>,
    pub at: String,
}

impl From<DeliveryRow> for DeliveryView {
    fn from(row: DeliveryRow) -> Self {
        let row = row.delivery;
        DeliveryView {
            event_id: row.event_id,
            tenant_id: row.tenant_id,
            attempt: row.attempt,
            outcome: row.outcome,
            status_code: row.status_code,
            latency_ms: row.latency_ms,
            response_body: row.response_body,
            at: to_rfc3339(row.at),
        }
    }
}

/// What `create` is asked for.
#[derive(Debug, Clone, Default)]
pub struct NewEndpoint<'a> {
    pub url: &'a str,
    pub tenant: Option<&'a str>,
    pub events: &'a str,
}

fn invalid(message: impl std::fmt::Display) -> OperatorError {
    OperatorError::Invalid(message.to_string())
}

fn not_found(id: &str) -> OperatorError {
    OperatorError::NotFound(format!(
        "webhook endpoint '{}'",
        id.chars().take(64).collect::<String>()
    ))
}

/// Registers an endpoint. It receives the events after the current head of the feed (history
/// is not replayed unless asked for).
pub fn create(
    db: &Database,
    clock: &dyn Clock,
    actor: &Actor,
    new: &NewEndpoint<'_>,
    allow_private: bool,
) -> Result<IssuedEndpoint, OperatorError> {
    let url = targets::check_url(new.url, allow_private).map_err(invalid)?;
    let filter = TypeFilter::parse(new.events).map_err(invalid)?;
    // The patterns as given (`user.*` keeps matching types added later), checked and tidied.
    let events_text = if filter.is_all() {
        String::new()
    } else {
        new.events.split(',').map(str::trim).filter(|e| !e.is_empty()).collect::<Vec<_>>().join(",")
    };
    let id = format!("wh_{}", uuid::Uuid::now_v7().simple());
    let secret = signing::generate_secret();
    let now = clock.now();
    let tenant_slug = new.tenant.map(str::trim).filter(|t| !t.is_empty());
    db.write(|conn| {
        let tenant = match tenant_slug {
            Some(slug) => Some(
                tenants::find_by_slug(conn, slug)?
                    .ok_or_else(|| OperatorError::NotFound(format!("tenant '{slug}'")))?,
            ),
            None => None,
        };
        let row = EndpointRow {
            id: id.clone(),
            url: url.to_string(),
            tenant_id: tenant.as_ref().map(|t| t.id.clone()),
            event_types: events_text.clone(),
            secret: secret.clone(),
            previous_secret: None,
            previous_until: None,
            enabled: true,
            disabled_reason: None,
            fanout_position: events::head(conn)?,
            created_at: now,
        };
        repo::insert_endpoint(conn, &row)?;
        let mut event = Event::new(Kind::WebhookCreated, actor)
            .detail("endpoint", id.clone())
            .detail("url", url.to_string())
            .detail("events", display_events(&events_text));
        if let Some(t) = &tenant {
            event = event.tenant(t.id.clone());
        }
        audit::record(conn, db.audit_counts(), now, event)?;
        Ok::<_, OperatorError>(())
    })?;
    Ok(IssuedEndpoint {
        id,
        secret,
        url: url.to_string(),
        tenant: tenant_slug.map(str::to_owned),
        events: display_events(&events_text),
        previous_secret_until: None,
    })
}

fn display_events(stored: &str) -> String {
    if stored.is_empty() { "*".into() } else { stored.to_owned() }
}

fn tenant_slug(conn: &mut DbConnection, id: Option<&str>) -> Result<Option<String>, StoreError> {
    match id {
        Some(id) => Ok(Some(tenants::find(conn, id)?.map_or_else(|| id.to_owned(), |t| t.slug))),
        None => Ok(None),
    }
}

fn view(
    conn: &mut DbConnection,
    row: EndpointRow,
    now: Millis,
) -> Result<EndpointView, StoreError> {
    // Only what the endpoint will be sent counts (its filter skips the rest).
    let filter = TypeFilter::parse(&row.event_types).unwrap_or_else(|_| TypeFilter::all());
    let names = (!filter.is_all()).then(|| filter.names());
    let (mut pending, mut oldest) = repo::unfanned(conn, &row, names.as_deref())?;
    let mut failing: Option<(i64, i64, i64)> = None;
    for cursor in repo::cursors_of(conn, &row.id)? {
        let (n, first) = repo::backlog(
            conn,
            &cursor.tenant_id,
            cursor.position,
            row.fanout_position,
            names.as_deref(),
        )?;
        pending += n;
        oldest = match (oldest, first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(since) = cursor.failing_since
            && failing.is_none_or(|(s, _, _)| since < s)
        {
            failing = Some((since, cursor.next_attempt_at, cursor.attempts));
        }
    }
    let last =
        repo::recent_deliveries(conn, &row.id, 1)?.into_iter().next().map(DeliveryView::from);
    Ok(EndpointView {
        tenant: tenant_slug(conn, row.tenant_id.as_deref())?,
        events: display_events(&row.event_types),
        enabled: row.enabled,
        disabled_reason: row.disabled_reason,
        created: to_rfc3339(row.created_at),
        pending,
        oldest_pending: oldest.map(to_rfc3339),
        oldest_pending_ms: oldest,
        failing_since: failing.map(|(since, _, _)| to_rfc3339(since)),
        next_retry: failing.filter(|_| row.enabled).map(|(_, next, _)| to_rfc3339(next.max(now))),
        attempts: failing.map_or(0, |(_, _, attempts)| attempts),
        last_delivery: last,
        previous_secret_until: row.previous_until.filter(|&until| until > now).map(to_rfc3339),
        id: row.id,
        url: row.url,
    })
}

pub fn list(db: &Database, clock: &dyn Clock) -> Result<Vec<EndpointView>, OperatorError> {
    let now = clock.now();
    db.read(|conn| {
        let rows = repo::list_endpoints(conn)?;
        let views: Result<Vec<_>, StoreError> =
            rows.into_iter().map(|r| view(conn, r, now)).collect();
        Ok(views?)
    })
}

/// The backlog of enabled endpoints: undelivered events, and the age of the oldest in seconds.
pub fn backlog(db: &Database, clock: &dyn Clock) -> Result<(i64, f64), OperatorError> {
    let now = clock.now();
    db.read(|conn| {
        let (mut depth, mut oldest) = (0, None::<Millis>);
        for row in repo::enabled_endpoints(conn)? {
            let view = view(conn, row, now)?;
            depth += view.pending;
            oldest = match (oldest, view.oldest_pending_ms) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        let lag = oldest.map_or(0.0, |at| (now - at).max(0) as f64 / 1000.0);
        Ok((depth, lag))
    })
}

/// One endpoint and its most recent delivery attempts, newest first.
pub fn show(
    db: &Database,
    clock: &dyn Clock,
    id: &str,
    deliveries: i64,
) -> Result<(EndpointView, Vec<DeliveryView>), OperatorError> {
    let now = clock.now();
    db.read(|conn| {
        let row = repo::find_endpoint(conn, id)?.ok_or_else(|| not_found(id))?;
        let recent = repo::recent_deliveries(conn, id, deliveries)?;
        Ok((view(conn, row, now)?, recent.into_iter().map(DeliveryView::from).collect()))
    })
}

fn endpoint_event(kind: Kind, actor: &Actor, row: &EndpointRow) -> Event {
    let mut event =
        Event::new(kind, actor).detail("endpoint", row.id.clone()).detail("url", row.url.clone());
    if let Some(tenant) = &row.tenant_id {
        event = event.tenant(tenant.clone());
    }
    event
}

/// Stops deliveries (events keep accumulating for it: enabling resumes where it stopped).
pub fn disable(
    db: &Database,
    clock: &dyn Clock,
    actor: &Actor,
    id: &str,
    reason: &str,
) -> Result<(), OperatorError> {
    switch(db, clock, actor, id, Some(reason))
}

/// Resumes deliveries where they stopped, with fresh retries.
pub fn enable(
    db: &Database,
    clock: &dyn Clock,
    actor: &Actor,
    id: &str,
) -> Result<(), OperatorError> {
    switch(db, clock, actor, id, None)
}

/// Disables the endpoint for `disabled_for`, or enables it (`None`); an endpoint already so is
/// left alone, unaudited.
fn switch(
    db: &Database,
    clock: &dyn Clock,
    actor: &Actor,
    id: &str,
    disabled_for: Option<&str>,
) -> Result<(), OperatorError> {
    let (now, enable) = (clock.now(), disabled_for.is_none());
    db.write(|conn| {
        let row = repo::find_endpoint(conn, id)?.ok_or_else(|| not_found(id))?;
        if row.enabled == enable {
            return Ok(());
        }
        repo::set_enabled(conn, id, enable, disabled_for)?;
        let event = match disabled_for {
            Some(reason) => {
                endpoint_event(Kind::WebhookDisabled, actor, &row).detail("reason", reason)
            }
            None => {
                repo::reset_failures(conn, id, now)?;
                endpoint_event(Kind::WebhookEnabled, actor, &row)
            }
        };
        audit::record(conn, db.audit_counts(), now, event)?;
        Ok(())
    })
}

pub fn delete(
    db: &Database,
    clock: &dyn Clock,
    actor: &Actor,
    id: &str,
) -> Result<(), OperatorError> {
    let now = clock.now();
    db.write(|conn| {
        let row = repo::find_endpoint(conn, id)?.ok_or_else(|| not_found(id))?;
        repo::delete_endpoint(conn, id)?;
        let event = endpoint_event(Kind::WebhookDeleted, actor, &row);
        audit::record(conn, db.audit_counts(), now, event)?;
        Ok(())
    })
}

/// A new secret; the current one keeps signing beside it for `grace_hours` (0: stops at once).
pub fn rotate_secret(
    db: &Database,
    clock: &dyn Clock,
    actor: &Actor,
    id: &str,
    grace_hours: u64,
) -> Result<IssuedEndpoint, OperatorError> {
    if grace_hours > MAX_GRACE_HOURS {
        return Err(invalid(format!("the grace period is at most {MAX_GRACE_HOURS} hours")));
    }
    let now = clock.now();
    let secret = signing::generate_secret();
    let until = (grace_hours > 0).then(|| now + (grace_hours as i64) * 3_600_000);
    db.write(|conn| {
        let row = repo::find_endpoint(conn, id)?.ok_or_else(|| not_found(id))?;
        let previous = until.map(|_| row.secret.as_str());
        repo::set_secret(conn, id, &secret, previous, until)?;
        let event = endpoint_event(Kind::WebhookSecretRotated, actor, &row)
            .detail("grace_hours", grace_hours);
        audit::record(conn, db.audit_counts(), now, event)?;
        Ok(IssuedEndpoint {
            id: row.id.clone(),
            secret: secret.clone(),
            url: row.url.clone(),
            tenant: tenant_slug(conn, row.tenant_id.as_deref())?,
            events: display_events(&row.event_types),
            previous_secret_until: until.map(to_rfc3339),
        })
    })
}

/// Which events a replay re-sends.
#[derive(Debug, Clone)]
pub enum Replay<'a> {
    Event(&'a str),
    /// Events that occurred in `[since, until)`.
    Range {
        since: Millis,
        until: Millis,
    },
}

/// Queues re-deliveries of past events (those of the endpoint's tenant and types); returns how
/// many. They are sent outside the ordered cursors, once each, by whichever node takes them.
pub fn replay(
    db: &Database,
    clock: &dyn Clock,
    actor: &Actor,
    id: &str,
    which: &Replay<'_>,
) -> Result<usize, OperatorError> {
    let now = clock.now();
    db.write(|conn| {
        let row = repo::find_endpoint(conn, id)?.ok_or_else(|| not_found(id))?;
        let filter = TypeFilter::parse(&row.event_types).map_err(invalid)?;
        let wanted = |event: &events::EventRow| {
            filter.matches(&event.event.event_type)
                && row.tenant_id.as_ref().is_none_or(|t| *t == event.event.tenant_id)
        };
        let ids: Vec<String> = match which {
            Replay::Event(event_id) => {
                let event = repo::find_event(conn, event_id)?.filter(wanted).ok_or_else(|| {
                    OperatorError::NotFound(format!(
                        "event '{}' for this endpoint",
                        event_id.chars().take(64).collect::<String>()
                    ))
                })?;
                vec![event.event.id]
            }
            Replay::Range { since, until } => {
                if since >= until {
                    return Err(invalid("--since must be before --until"));
                }
                let mut ids = Vec::new();
                for event_id in repo::event_ids_between(
                    conn,
                    row.tenant_id.as_deref(),
                    *since,
                    *until,
                    MAX_REPLAY,
                )? {
                    if let Some(event) = repo::find_event(conn, &event_id)?.filter(wanted) {
                        ids.push(event.event.id);
                    }
                }
                ids
            }
        };
        repo::queue_replay(conn, id, &ids, now)?;
        let event = endpoint_event(Kind::WebhookReplayed, actor, &row).detail("events", ids.len());
        audit::record(conn, db.audit_counts(), now, event)?;
        Ok(ids.len())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_a_secret() {
        let issued = IssuedEndpoint {
            id: "wh_1".into(),
            secret: "whsec_c2VjcmV0".into(),
            url: "https://example.com/".into(),
            tenant: None,
            events: "*".into(),
            previous_secret_until: None,
        };
        assert!(!format!("{issued:?}").contains("whsec_"));
        let row = EndpointRow {
            id: "wh_1".into(),
            url: "https://example.com/".into(),
            tenant_id: None,
            event_types: String::new(),
            secret: "whsec_c2VjcmV0".into(),
            previous_secret: Some("whsec_b2xk".into()),
            previous_until: Some(1),
            enabled: true,
            disabled_reason: None,
            fanout_position: 0,
            created_at: 0,
        };
        assert!(!format!("{row:?}").contains("whsec_"));
    }
}
