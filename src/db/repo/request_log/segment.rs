//! A segment packs up to [`SEGMENT_ENTRIES`] recorded requests of one tenant, from one flush, into
//! one row of `request_segments`: the log pays one B-tree row and one index entry per segment
//! instead of per request, which is what bounded the inspector's cost (BENCHMARKS.md, "The
//! request inspector's cost").
//!
//! The packing is length-prefixed bytes, not JSON: encoding is a copy (bodies need no escaping),
//! and a list page reads each entry's head and skips its bodies unread. Layout: a version byte
//! ([`VERSION`]), then per entry its index in the segment (`u8`), `at`, `status` and `latency_ms`
//! (`i64`, little-endian), then `method`, `path`, `client`, `user_agent`, `request_id`,
//! `scim_type`, `detail`, `credential`, `request_body` and `response_body`, each a `u32`
//! little-endian length and that many UTF-8 bytes, [`ABSENT`] for a missing optional.
//!
//! A request's id is its segment's `seq` × [`SEGMENT_ENTRIES`] + its index, so ids order as the
//! requests were written, and trimming a segment (retention by count) keeps the ids of the rest.

use std::collections::BTreeSet;

use super::RequestRow;

/// Requests per segment at most.
pub const SEGMENT_ENTRIES: i64 = 64;
/// Packed bytes per segment at most, unless one request is larger alone. SQLite copies a row
/// through the C allocator as it binds it and as it builds the record; below glibc's mmap
/// threshold (128 KiB) those copies reuse heap memory instead of each being mapped, zeroed and
/// unmapped, and a segment of large bodies stays a modest row.
pub const SEGMENT_BYTES: usize = 64 * 1024;

/// The bytes `row` takes in a segment.
pub fn packed_len(row: &RequestRow) -> usize {
    let text = |t: &Option<String>| 4 + t.as_ref().map_or(0, String::len);
    1 + 3 * 8
        + 5 * 4
        + row.method.len()
        + row.path.len()
        + row.client.len()
        + row.user_agent.len()
        + row.request_id.len()
        + text(&row.scim_type)
        + text(&row.detail)
        + text(&row.credential)
        + text(&row.request_body)
        + text(&row.response_body)
}

/// The packing's version, its first byte.
pub const VERSION: u8 = 1;
/// The length that marks an absent optional field.
const ABSENT: u32 = u32::MAX;

/// Why stored bytes could not be unpacked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("request log segment {seq}: {reason}")]
pub struct Malformed {
    pub seq: i64,
    pub reason: &'static str,
}

/// The id of entry `n` of segment `seq`.
pub fn entry_id(seq: i64, n: u8) -> i64 {
    seq * SEGMENT_ENTRIES + i64::from(n)
}

/// The segment and index a request id names.
pub fn locate(id: i64) -> (i64, i64) {
    (id.div_euclid(SEGMENT_ENTRIES), id.rem_euclid(SEGMENT_ENTRIES))
}

/// Packs `rows`, each with its index in the segment (below [`SEGMENT_ENTRIES`]; a trimmed
/// segment keeps the indexes, and so the ids, of what is left).
pub fn encode(rows: &[(u8, &RequestRow)]) -> Vec<u8> {
    let len: usize = rows.iter().map(|(_, row)| packed_len(row)).sum();
    let mut out = Vec::with_capacity(1 + len);
    out.push(VERSION);
    for (n, row) in rows {
        out.push(*n);
        for number in [row.at, row.status, row.latency_ms] {
            out.extend_from_slice(&number.to_le_bytes());
        }
        for text in [&row.method, &row.path, &row.client, &row.user_agent, &row.request_id] {
            put(&mut out, Some(text));
        }
        for text in
            [&row.scim_type, &row.detail, &row.credential, &row.request_body, &row.response_body]
        {
            put(&mut out, text.as_ref());
        }
    }
    out
}

fn put(out: &mut Vec<u8>, text: Option<&String>) {
    match text {
        // Fields are bounded long before 4 GiB (bodies by `request_log_body_bytes`).
        Some(text) => {
            out.extend_from_slice(&(text.len() as u32).to_le_bytes());
            out.extend_from_slice(text.as_bytes());
        }
        None => out.extend_from_slice(&ABSENT.to_le_bytes()),
    }
}

/// What to unpack of each entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bodies {
    /// Both bodies (one request's detail page).
    Read,
    /// Heads only, bodies left `None` unread (a list page).
    Skip,
}

/// Unpacks the segment `seq` of `tenant_id`: its entries in the order written, each with its
/// index.
pub fn decode(
    seq: i64,
    tenant_id: &str,
    bytes: &[u8],
    bodies: Bodies,
) -> Result<Vec<(u8, RequestRow)>, Malformed> {
    let bad = |reason| Malformed { seq, reason };
    let mut reader = Reader { bytes, at: 0 };
    if reader.byte().ok_or(bad("empty"))? != VERSION {
        return Err(bad("unknown version"));
    }
    let mut entries = Vec::new();
    while !reader.done() {
        let n = reader.byte().ok_or(bad("cut in an entry"))?;
        let mut number = || reader.number().ok_or(bad("cut in a number"));
        let (at, status, latency_ms) = (number()?, number()?, number()?);
        let mut text = |keep: bool| reader.text(keep).ok_or(bad("cut or not UTF-8 in a field"));
        let mut required = || text(true)?.ok_or(bad("a required field is absent"));
        let (method, path, client, user_agent, request_id) =
            (required()?, required()?, required()?, required()?, required()?);
        let (scim_type, detail, credential) = (text(true)?, text(true)?, text(true)?);
        let keep = bodies == Bodies::Read;
        let (request_body, response_body) = (text(keep)?, text(keep)?);
        let row = RequestRow {
            seq: entry_id(seq, n),
            tenant_id: tenant_id.to_owned(),
            at,
            method,
            path,
            status,
            scim_type,
            detail,
            latency_ms,
            credential,
            client,
            user_agent,
            request_id,
            request_body,
            response_body,
        };
        entries.push((n, row));
    }
    Ok(entries)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn done(&self) -> bool {
        self.at >= self.bytes.len()
    }

    fn take(&mut self, len: usize) -> Option<&[u8]> {
        let end = self.at.checked_add(len)?;
        let slice = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(slice)
    }

    fn byte(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn number(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    /// The next text field: `Some(None)` when absent (or not kept), `None` when malformed.
    fn text(&mut self, keep: bool) -> Option<Option<String>> {
        let len = u32::from_le_bytes(self.take(4)?.try_into().ok()?);
        if len == ABSENT {
            return Some(None);
        }
        let bytes = self.take(len as usize)?;
        if !keep {
            return Some(None);
        }
        Some(Some(std::str::from_utf8(bytes).ok()?.to_owned()))
    }
}

/// What a segment holds, kept in its own columns so that a filtered page skips the segments
/// that cannot match without unpacking them. Each set is a list written `,a,b,`, so that one
/// member is found with `LIKE '%,a,%'`; a value a filter could never name is left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub first_at: i64,
    pub last_at: i64,
    /// Status classes: `,2,4,`.
    pub statuses: String,
    /// Methods, upper case: `,GET,POST,`.
    pub methods: String,
    /// Resources (the path's segment after `/scim/v2/`), lower case: `,users,groups,`.
    pub resources: String,
    /// Clients: `,okta,`.
    pub clients: String,
}

/// The longest method and resource name a filter can ask for (the console's query bounds).
pub const METHOD_MAX: usize = 10;
pub const RESOURCE_MAX: usize = 64;

/// Whether `name` is a resource a filter can ask for.
pub fn is_resource_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= RESOURCE_MAX
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
}

/// The resource a recorded path addresses: `Users` for `/scim/v2/Users/42?attributes=id`.
pub fn resource_of(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/scim/v2/")?;
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    Some(&rest[..end]).filter(|r| !r.is_empty())
}

/// The summary of a non-empty set of entries. Runs once per request on the writer, so it
/// borrows: the few distinct values of a segment are collected as slices and cased once.
pub fn summarize<'a>(rows: impl IntoIterator<Item = &'a RequestRow>) -> Summary {
    let (mut first_at, mut last_at) = (i64::MAX, i64::MIN);
    let mut classes = [false; 10];
    let mut methods: Vec<&str> = Vec::new();
    let mut resources: Vec<&str> = Vec::new();
    let mut clients: Vec<&str> = Vec::new();
    for row in rows {
        first_at = first_at.min(row.at);
        last_at = last_at.max(row.at);
        classes[(row.status / 100).clamp(0, 9) as usize] = true;
        if row.method.len() <= METHOD_MAX {
            add_once(&mut methods, &row.method);
        }
        if let Some(resource) = resource_of(&row.path).filter(|r| is_resource_name(r)) {
            add_once(&mut resources, resource);
        }
        add_once(&mut clients, &row.client);
    }
    let statuses =
        classes.iter().enumerate().filter(|(_, seen)| **seen).map(|(c, _)| c.to_string());
    Summary {
        first_at,
        last_at,
        statuses: tag_list(statuses),
        methods: tag_list(methods.into_iter().map(str::to_ascii_uppercase)),
        resources: tag_list(resources.into_iter().map(str::to_ascii_lowercase)),
        clients: tag_list(clients.into_iter().map(str::to_owned)),
    }
}

/// Adds `value` unless it is there in some case (a segment holds a handful of distinct ones).
fn add_once<'a>(seen: &mut Vec<&'a str>, value: &'a str) {
    if !seen.iter().any(|s| s.eq_ignore_ascii_case(value)) {
        seen.push(value);
    }
}

fn tag_list(tags: impl Iterator<Item = String>) -> String {
    let tags: BTreeSet<String> = tags.collect();
    let mut list = String::from(",");
    for tag in tags {
        list.push_str(&tag);
        list.push(',');
    }
    list
}

/// The `LIKE` pattern that finds `tag` in a list.
pub fn tag_pattern(tag: &str) -> String {
    format!("%,{tag},%")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `rows` numbered by their position.
    fn encode_all(rows: &[RequestRow]) -> Vec<u8> {
        let numbered: Vec<(u8, &RequestRow)> =
            rows.iter().enumerate().map(|(n, row)| (n as u8, row)).collect();
        encode(&numbered)
    }

    fn row(n: i64) -> RequestRow {
        RequestRow {
            at: 1_000 + n,
            status: if n % 3 == 0 { 404 } else { 200 },
            method: if n % 2 == 0 { "GET".into() } else { "PATCH".into() },
            path: format!("/scim/v2/Users/{n}?attributes=id"),
            latency_ms: n,
            credential: (n % 2 == 1).then(|| format!("st:{n}")),
            scim_type: (n % 3 == 0).then(|| "noTarget".into()),
            detail: None,
            request_id: format!("req-{n}"),
            user_agent: "Okta SCIM Client 1.0.0 é".into(),
            client: "okta".into(),
            request_body: (n % 2 == 1).then(|| format!(r#"{{"n":{n},"quote":"\""}}"#)),
            response_body: Some("ü".repeat(n as usize)),
            ..RequestRow::default_for_tests()
        }
    }

    #[test]
    fn entries_come_back_as_written_with_their_ids() {
        let rows: Vec<RequestRow> = (0..5).map(row).collect();
        let bytes = encode_all(&rows);
        let back = decode(7, "t", &bytes, Bodies::Read).unwrap();
        let expected: Vec<(u8, RequestRow)> = rows
            .into_iter()
            .enumerate()
            .map(|(n, r)| (n as u8, RequestRow { seq: 7 * SEGMENT_ENTRIES + n as i64, ..r }))
            .collect();
        assert_eq!(back, expected);
    }

    #[test]
    fn the_packed_length_of_each_row_is_what_it_takes() {
        let rows: Vec<RequestRow> = (0..6).map(row).collect();
        let total: usize = rows.iter().map(packed_len).sum();
        assert_eq!(encode_all(&rows).len(), 1 + total);
    }

    #[test]
    fn a_list_read_skips_the_bodies_and_keeps_the_rest() {
        let rows: Vec<RequestRow> = (0..3).map(row).collect();
        let back = decode(1, "t", &encode_all(&rows), Bodies::Skip).unwrap();
        for ((_, got), want) in back.iter().zip(&rows) {
            assert_eq!((&got.request_body, &got.response_body), (&None, &None));
            assert_eq!(
                (&got.path, &got.credential, got.at),
                (&want.path, &want.credential, want.at)
            );
        }
    }

    #[test]
    fn a_trimmed_segment_keeps_the_ids_of_what_is_left() {
        let rows: Vec<RequestRow> = (0..4).map(row).collect();
        let kept: Vec<(u8, &RequestRow)> = vec![(2, &rows[2]), (3, &rows[3])];
        let back = decode(5, "t", &encode(&kept), Bodies::Read).unwrap();
        let ids: Vec<i64> = back.iter().map(|(_, r)| r.seq).collect();
        assert_eq!(ids, [5 * SEGMENT_ENTRIES + 2, 5 * SEGMENT_ENTRIES + 3]);
    }

    #[test]
    fn malformed_bytes_are_refused_not_misread() {
        let bytes = encode_all(&[row(1), row(2)]);
        // Cut between entries, a segment reads as fewer: the row's `entries` says how many.
        let between = [1, encode_all(&[row(1)]).len()];
        for cut in (1..bytes.len()).filter(|cut| !between.contains(cut)) {
            if let Ok(entries) = decode(1, "t", &bytes[..cut], Bodies::Read) {
                panic!(
                    "a segment cut at {cut} of {} read as {} entries",
                    bytes.len(),
                    entries.len()
                );
            }
        }
        assert_eq!(decode(1, "t", &[], Bodies::Read).unwrap_err().reason, "empty");
        assert_eq!(decode(1, "t", &[9], Bodies::Read).unwrap_err().reason, "unknown version");
        let mut not_utf8 = encode_all(&[row(1)]);
        let path = not_utf8.iter().position(|b| *b == b'/').unwrap();
        not_utf8[path] = 0xff;
        assert!(decode(1, "t", &not_utf8, Bodies::Read).is_err());
        assert_eq!(decode(1, "t", &[VERSION], Bodies::Read).unwrap(), []);
    }

    #[test]
    fn ids_name_their_segment_and_index_also_below_zero() {
        for (seq, n) in [(0, 0), (1, 63), (12_345, 7), (-1, 0), (-(1 << 50), 63)] {
            let id = entry_id(seq, n);
            assert_eq!(locate(id), (seq, i64::from(n)), "{seq}/{n}");
        }
        assert!(entry_id(2, 0) > entry_id(1, 63), "ids order as segments do");
    }

    #[test]
    fn a_summary_lists_what_a_filter_can_ask_for() {
        let mut rows: Vec<RequestRow> = (0..4).map(row).collect();
        rows[1].path = "/scim/v2/Groups".into();
        rows[2].path = "/scim/v2/Bulk?x=1".into();
        rows[3].path = format!("/scim/v2/{}", "x".repeat(RESOURCE_MAX + 1));
        rows[3].method = "VERYLONGMETHOD".into();
        rows[3].status = 503;
        rows[3].client = "entra".into();
        let summary = summarize(&rows);
        assert_eq!(summary.first_at, 1_000);
        assert_eq!(summary.last_at, 1_003);
        assert_eq!(summary.statuses, ",2,4,5,");
        assert_eq!(summary.methods, ",GET,PATCH,", "a method no filter can name is left out");
        assert_eq!(summary.resources, ",bulk,groups,users,");
        assert_eq!(summary.clients, ",entra,okta,");
        assert!(summary.resources.contains(&tag_pattern("groups").replace('%', "")));
    }

    #[test]
    fn resources_are_the_segment_after_the_scim_root() {
        assert_eq!(resource_of("/scim/v2/Users"), Some("Users"));
        assert_eq!(resource_of("/scim/v2/Users/42"), Some("Users"));
        assert_eq!(resource_of("/scim/v2/Users?filter=x"), Some("Users"));
        assert_eq!(resource_of("/scim/v2/"), None);
        assert_eq!(resource_of("/admin/Users"), None);
        assert!(
            is_resource_name("urn.x.Roles") && !is_resource_name("a b") && !is_resource_name("")
        );
    }
}
