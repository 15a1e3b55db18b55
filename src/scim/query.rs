//! List requests (RFC 7644 §3.4.2): query parameters → a typed `ListQuery`, and the ListResponse.

use serde_json::{Value, json};

use super::error::{ScimError, ScimResult};
use super::filter::{Filter, parse_filter};
use super::resource::Projection;
use super::schema::ResourceKind;

pub const LIST_RESPONSE_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// Page-size policy from configuration.
#[derive(Debug, Clone, Copy)]
pub struct PageLimits {
    pub default_count: u64,
    pub max_count: u64,
}

#[derive(Debug)]
pub struct ListQuery {
    pub filter: Option<Filter>,
    /// 1-based, as on the wire.
    pub start_index: u64,
    pub count: u64,
    pub projection: Projection,
}

impl ListQuery {
    /// Parses query parameters; names are matched case-insensitively.
    pub fn parse(
        kind: ResourceKind,
        params: &[(String, String)],
        limits: PageLimits,
    ) -> ScimResult<ListQuery> {
        let get = |name: &str| {
            params.iter().rev().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
        };
        let filter = match get("filter").map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(parse_filter(text)?),
        };
        // RFC 7644 §3.4.2.4: startIndex below 1 means 1; a negative count means 0.
        let start_index = match get("startIndex") {
            None => 1,
            Some(v) => parse_integer("startIndex", v)?.max(1) as u64,
        };
        let count = match get("count") {
            None => limits.default_count,
            Some(v) => (parse_integer("count", v)?.max(0) as u64).min(limits.max_count),
        };
        let projection = Projection::parse(kind, get("attributes"), get("excludedAttributes"))?;
        Ok(ListQuery { filter, start_index, count, projection })
    }
}

fn parse_integer(name: &str, value: &str) -> ScimResult<i64> {
    value
        .trim()
        .parse::<i64>()
        .map_err(|_| ScimError::invalid_value(format!("{name} must be an integer, not '{value}'")))
}

/// `{"schemas": [ListResponse], "totalResults", "startIndex", "itemsPerPage", "Resources"}`.
pub fn list_response(total: u64, start_index: u64, resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE_URN],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }
    const LIMITS: PageLimits = PageLimits { default_count: 100, max_count: 1000 };

    #[test]
    fn paging_values_are_clamped_or_refused() {
        type Case<'a> = (&'a [(&'a str, &'a str)], Option<(u64, u64)>);
        let cases: &[Case<'_>] = &[
            (&[], Some((1, 100))),
            (&[("startIndex", "1"), ("count", "2")], Some((1, 2))),
            (&[("startIndex", "0"), ("count", "-5")], Some((1, 0))),
            (&[("STARTINDEX", "7"), ("Count", "5000")], Some((7, 1000))),
            (&[("startIndex", "abc")], None),
            (&[("count", "1.5")], None),
        ];
        for (input, expected) in cases {
            let got = ListQuery::parse(ResourceKind::User, &params(input), LIMITS)
                .map(|q| (q.start_index, q.count));
            match expected {
                Some(e) => assert_eq!(got.ok(), Some(*e), "{input:?}"),
                None => assert_eq!(
                    got.err().and_then(|e| e.scim_type),
                    Some(super::super::error::ScimType::InvalidValue),
                    "{input:?}"
                ),
            }
        }
    }

    #[test]
    fn filters_parse_and_bad_ones_are_invalid_filter() {
        let ok = ListQuery::parse(
            ResourceKind::User,
            &params(&[("filter", "userName eq \"a@b.c\"")]),
            LIMITS,
        );
        assert!(ok.is_ok_and(|q| q.filter.is_some()));
        let blank = ListQuery::parse(ResourceKind::User, &params(&[("filter", "  ")]), LIMITS);
        assert!(blank.is_ok_and(|q| q.filter.is_none()));
        let bad =
            ListQuery::parse(ResourceKind::User, &params(&[("filter", "userName eq")]), LIMITS);
        assert_eq!(bad.err().map(|e| e.status), Some(400));
    }
}
