-- The request inspector's storage, packed: one row holds up to 64 requests of one tenant from one
-- flush (the layout is in src/db/repo/request_log/segment.rs), so the log writes one row and one
-- index entry per segment instead of per request. The summary columns say what a segment holds
-- (`,a,b,` lists) so that a filtered page skips the segments that cannot match.
--
-- Expand: `request_log` stays for nodes of the previous release during a rolling upgrade; the
-- new release folds its rows into segments as it finds them, and a later release drops it.
CREATE TABLE request_segments (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id  TEXT NOT NULL,
    first_at   BIGINT NOT NULL,
    last_at    BIGINT NOT NULL,
    entries    BIGINT NOT NULL,
    statuses   TEXT NOT NULL,
    methods    TEXT NOT NULL,
    resources  TEXT NOT NULL,
    clients    TEXT NOT NULL,
    body       BLOB NOT NULL
);
-- Covers retention by count (the newest segments' sizes) without reading the rows.
CREATE INDEX request_segments_tenant_seq ON request_segments (tenant_id, seq, entries);
