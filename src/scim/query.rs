//! List requests (RFC 7644 §3.4.2): query parameters → a typed `ListQuery`, and the ListResponse.

use serde_json::{Value, json};

use super::error::{ScimError, ScimResult};
use super::filter::{AttrPath, Filter, parse_filter};
use super::path::parse_patch_path;
use super::resource::Projection;
use super::schema::ResourceSchemas;

pub const LIST_RESPONSE_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const SEARCH_REQUEST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

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
    pub sort: Option<Sort>,
}

/// `sortBy` / `sortOrder` (RFC 7644 §3.4.2.3).
#[derive(Debug, Clone, PartialEq)]
pub struct Sort {
    pub by: AttrPath,
    pub descending: bool,
}

impl ListQuery {
    /// Parses query parameters; names are matched case-insensitively.
    pub fn parse(
        schemas: ResourceSchemas,
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
        let projection = Projection::parse(schemas, get("attributes"), get("excludedAttributes"))?;
        let sort = match get("sortBy").map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(by) => Some(Sort {
                by: parse_sort_by(by)?,
                descending: parse_sort_order(get("sortOrder"))?,
            }),
        };
        Ok(ListQuery { filter, start_index, count, projection, sort })
    }

    /// The body of `POST …/.search` (RFC 7644 §3.4.3): the same parameters as a JSON object,
    /// with `attributes`/`excludedAttributes` as arrays and numbers as numbers.
    pub fn from_search_request(
        schemas: ResourceSchemas,
        body: &Value,
        limits: PageLimits,
    ) -> ScimResult<ListQuery> {
        ListQuery::parse(schemas, &search_request_params(body)?, limits)
    }
}

/// Turns a SearchRequest into the equivalent query parameters, so both forms share one parser.
pub fn search_request_params(body: &Value) -> ScimResult<Vec<(String, String)>> {
    let object = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("a SearchRequest must be a JSON object"))?;
    let declared = object.get("schemas").and_then(Value::as_array).is_some_and(|schemas| {
        schemas
            .iter()
            .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(SEARCH_REQUEST_URN)))
    });
    if !declared {
        return Err(ScimError::invalid_syntax(format!(
            "schemas must contain \"{SEARCH_REQUEST_URN}\""
        )));
    }
    let mut params = Vec::new();
    for (key, value) in object {
        if key.eq_ignore_ascii_case("schemas") || value.is_null() {
            continue;
        }
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Array(items) => items
                .iter()
                .map(|item| {
                    item.as_str().map(str::to_owned).ok_or_else(|| {
                        ScimError::invalid_value(format!("{key} must be a list of attribute names"))
                    })
                })
                .collect::<ScimResult<Vec<_>>>()?
                .join(","),
            _ => return Err(ScimError::invalid_value(format!("{key} has the wrong type"))),
        };
        params.push((key.clone(), text));
    }
    Ok(params)
}

fn parse_sort_by(text: &str) -> ScimResult<AttrPath> {
    let path = parse_patch_path(text).map_err(|e| {
        ScimError::invalid_value(format!("sortBy must be an attribute path: {}", e.detail))
    })?;
    if path.filter.is_some() || path.sub_attr.is_some() {
        return Err(ScimError::invalid_value("sortBy must be an attribute path without a filter"));
    }
    Ok(path.attr)
}

fn parse_sort_order(text: Option<&str>) -> ScimResult<bool> {
    match text.map(str::trim) {
        None | Some("") => Ok(false),
        Some(order) if order.eq_ignore_ascii_case("ascending") => Ok(false),
        Some(order) if order.eq_ignore_ascii_case("descending") => Ok(true),
        Some(other) => Err(ScimError::invalid_value(format!(
            "sortOrder must be 'ascending' or 'descending', not '{other}'"
        ))),
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

    fn user() -> ResourceSchemas {
        crate::scim::schema::Registry::builtin().resource(crate::scim::schema::ResourceKind::User)
    }

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
            let got =
                ListQuery::parse(user(), &params(input), LIMITS).map(|q| (q.start_index, q.count));
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
        let ok = ListQuery::parse(user(), &params(&[("filter", "userName eq \"a@b.c\"")]), LIMITS);
        assert!(ok.is_ok_and(|q| q.filter.is_some()));
        let blank = ListQuery::parse(user(), &params(&[("filter", "  ")]), LIMITS);
        assert!(blank.is_ok_and(|q| q.filter.is_none()));
        let bad = ListQuery::parse(user(), &params(&[("filter", "userName eq")]), LIMITS);
        assert_eq!(bad.err().map(|e| e.status), Some(400));
    }

    #[test]
    fn sort_parameters_parse_or_are_invalid_value() {
        let sort = |pairs: &[(&str, &str)]| {
            ListQuery::parse(user(), &params(pairs), LIMITS).map(|q| q.sort)
        };
        assert_eq!(sort(&[]).ok(), Some(None));
        assert_eq!(sort(&[("sortOrder", "descending")]).ok(), Some(None));
        let by = sort(&[("sortBy", "name.familyName"), ("sortOrder", "Descending")]);
        assert_eq!(
            by.ok().flatten(),
            Some(Sort { by: AttrPath::new("name").with_sub("familyName"), descending: true })
        );
        for bad in [
            &[("sortBy", "emails[type eq \"work\"]")][..],
            &[("sortBy", "userName"), ("sortOrder", "up")],
            &[("sortBy", "user name")],
        ] {
            assert_eq!(
                sort(bad).err().and_then(|e| e.scim_type),
                Some(super::super::error::ScimType::InvalidValue),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn search_requests_become_the_same_query_as_parameters() {
        let body = json!({
            "schemas": [SEARCH_REQUEST_URN],
            "attributes": ["userName", "name.givenName"],
            "filter": "userName sw \"a\"",
            "sortBy": "userName",
            "startIndex": 3,
            "count": 10
        });
        let q = ListQuery::from_search_request(user(), &body, LIMITS);
        let q = q.ok();
        assert_eq!(q.as_ref().map(|q| (q.start_index, q.count)), Some((3, 10)));
        assert!(q.as_ref().is_some_and(|q| q.filter.is_some() && q.sort.is_some()));
        let undeclared = json!({"filter": "userName pr"});
        assert!(ListQuery::from_search_request(user(), &undeclared, LIMITS).is_err());
        let wrong = json!({"schemas": [SEARCH_REQUEST_URN], "attributes": [1]});
        assert!(ListQuery::from_search_request(user(), &wrong, LIMITS).is_err());
    }
}
