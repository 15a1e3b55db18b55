//! `/Bulk` requests (RFC 7644 §3.7), pure: parsing, operation paths, `bulkId` references and the
//! order that resolves them, and the BulkResponse. Executing an operation is the service's job.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value, json};

use super::error::{ScimError, ScimResult};
use super::schema::ResourceKind;

pub const BULK_REQUEST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
pub const BULK_RESPONSE_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
const BULK_ID_PREFIX: &str = "bulkId:";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkMethod {
    Post,
    Put,
    Patch,
    Delete,
}

impl BulkMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            BulkMethod::Post => "POST",
            BulkMethod::Put => "PUT",
            BulkMethod::Patch => "PATCH",
            BulkMethod::Delete => "DELETE",
        }
    }
}

/// One operation as sent. Its own problems (unknown method, bad path, missing data) are reported
/// in its own result, so one bad operation does not sink the others.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkOperation {
    /// The method as sent, echoed back in the result.
    pub method_text: String,
    pub bulk_id: Option<String>,
    pub version: Option<String>,
    pub path: String,
    pub data: Option<Value>,
}

/// What an operation addresses: `/Users`, `/Groups/{id}`, …
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkTarget {
    pub kind: ResourceKind,
    pub id: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BulkRequest {
    /// Stop after this many failed operations (`failOnErrors`); `None` runs them all.
    pub fail_on_errors: Option<u64>,
    pub operations: Vec<BulkOperation>,
}

/// Parses a BulkRequest. Whole-request problems are errors here; `maxOperations` is exceeded
/// with 413, as RFC 7644 §3.7.4 requires.
pub fn parse_bulk_request(body: &Value, max_operations: u32) -> ScimResult<BulkRequest> {
    let object = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("a BulkRequest is a JSON object"))?;
    let declared = object.get("schemas").and_then(Value::as_array).is_some_and(|schemas| {
        schemas.iter().any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(BULK_REQUEST_URN)))
    });
    if !declared {
        return Err(ScimError::invalid_syntax(format!(
            "schemas must contain \"{BULK_REQUEST_URN}\""
        )));
    }
    let field =
        |name: &str| object.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v);
    let fail_on_errors =
        match field("failOnErrors") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_u64().filter(|n| *n > 0).ok_or_else(|| {
                ScimError::invalid_value("failOnErrors must be a positive integer")
            })?),
        };
    let items = field("Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::invalid_syntax("Operations must be an array of operations"))?;
    if items.len() > max_operations as usize {
        return Err(ScimError::payload_too_large(format!(
            "{} operations exceed maxOperations ({max_operations}); split the request",
            items.len()
        )));
    }
    let operations: Vec<BulkOperation> = items.iter().map(parse_operation).collect();
    let mut seen = HashSet::new();
    for id in operations.iter().filter_map(|op| op.bulk_id.as_deref()) {
        if !seen.insert(id) {
            return Err(ScimError::invalid_value(format!("bulkId '{id}' is used twice")));
        }
    }
    Ok(BulkRequest { fail_on_errors, operations })
}

fn parse_operation(item: &Value) -> BulkOperation {
    let text = |name: &str| {
        item.as_object()
            .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
            .and_then(|(_, v)| v.as_str())
            .map(str::to_owned)
    };
    let data = item
        .as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case("data")))
        .map(|(_, v)| v.clone())
        .filter(|v| !v.is_null());
    BulkOperation {
        method_text: text("method").unwrap_or_default(),
        bulk_id: text("bulkId"),
        version: text("version"),
        path: text("path").unwrap_or_default(),
        data,
    }
}

impl BulkOperation {
    /// The method, checked.
    pub fn method(&self) -> ScimResult<BulkMethod> {
        match self.method_text.to_ascii_uppercase().as_str() {
            "POST" => Ok(BulkMethod::Post),
            "PUT" => Ok(BulkMethod::Put),
            "PATCH" => Ok(BulkMethod::Patch),
            "DELETE" => Ok(BulkMethod::Delete),
            "" => Err(ScimError::invalid_syntax("each operation needs a method")),
            other => Err(ScimError::invalid_value(format!(
                "method '{other}' is not allowed in a bulk request (POST, PUT, PATCH or DELETE)"
            ))),
        }
    }

    /// The target of the (already bulkId-resolved) path, checked against the method.
    pub fn target(&self, method: BulkMethod) -> ScimResult<BulkTarget> {
        let path = self.path.trim_matches('/');
        let (endpoint, id) = match path.split_once('/') {
            Some((endpoint, id)) => (endpoint, Some(id)),
            None => (path, None),
        };
        let kind = ResourceKind::ALL
            .into_iter()
            .find(|k| k.endpoint().trim_start_matches('/').eq_ignore_ascii_case(endpoint))
            .ok_or_else(|| {
                ScimError::invalid_path(format!("'{}' is not /Users or /Groups", self.path))
            })?;
        match (method, id) {
            (BulkMethod::Post, None) => {
                if self.bulk_id.is_none() {
                    return Err(ScimError::invalid_syntax("a POST operation needs a bulkId"));
                }
                Ok(BulkTarget { kind, id: None })
            }
            (BulkMethod::Post, Some(_)) => {
                Err(ScimError::invalid_path("POST goes to /Users or /Groups, not to a resource"))
            }
            (_, Some(id)) if !id.is_empty() && !id.contains('/') => {
                Ok(BulkTarget { kind, id: Some(id.to_owned()) })
            }
            _ => Err(ScimError::invalid_path(format!(
                "{} needs a resource path such as /Users/{{id}}",
                method.as_str()
            ))),
        }
    }

    /// The `data` an operation needs (POST, PUT and PATCH).
    pub fn body(&self) -> ScimResult<&Value> {
        self.data.as_ref().filter(|d| d.is_object()).ok_or_else(|| {
            ScimError::invalid_syntax("this operation needs a JSON object in 'data'")
        })
    }

    /// The bulkIds this operation refers to (`bulkId:x` in its path or anywhere in its data).
    pub fn references(&self) -> HashSet<String> {
        let mut found = HashSet::new();
        if let Some(id) = self.path.split('/').find_map(|seg| seg.strip_prefix(BULK_ID_PREFIX)) {
            found.insert(id.to_owned());
        }
        if let Some(data) = &self.data {
            collect_references(data, &mut found);
        }
        found
    }

    /// Replaces every `bulkId:x` with the id of the resource operation `x` created.
    pub fn resolve(&mut self, created: &HashMap<String, String>) -> ScimResult<()> {
        let mut missing = None;
        let path = self
            .path
            .split('/')
            .map(|seg| match seg.strip_prefix(BULK_ID_PREFIX) {
                Some(id) => created.get(id).cloned().unwrap_or_else(|| {
                    missing = Some(id.to_owned());
                    seg.to_owned()
                }),
                None => seg.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("/");
        self.path = path;
        if let Some(data) = &mut self.data {
            replace_references(data, created, &mut missing);
        }
        match missing {
            None => Ok(()),
            Some(id) => Err(ScimError::conflict(format!(
                "bulkId '{id}' does not name a resource created in this request"
            ))),
        }
    }
}

fn collect_references(value: &Value, found: &mut HashSet<String>) {
    match value {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix(BULK_ID_PREFIX) {
                found.insert(id.to_owned());
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_references(v, found)),
        Value::Object(map) => map.values().for_each(|v| collect_references(v, found)),
        _ => {}
    }
}

fn replace_references(
    value: &mut Value,
    created: &HashMap<String, String>,
    missing: &mut Option<String>,
) {
    match value {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix(BULK_ID_PREFIX) {
                match created.get(id) {
                    Some(real) => *s = real.clone(),
                    None => *missing = Some(id.to_owned()),
                }
            }
        }
        Value::Array(items) => {
            items.iter_mut().for_each(|v| replace_references(v, created, missing))
        }
        Value::Object(map) => {
            map.values_mut().for_each(|v| replace_references(v, created, missing))
        }
        _ => {}
    }
}

/// The order to run operations in: request order, except that an operation waits until the
/// operations whose bulkIds it references have run (RFC 7644 §3.7.2 lets them come in any order).
/// Operations caught in a reference cycle, or referencing an unknown bulkId, keep their place;
/// resolving them then fails with 409, as §3.7.2 allows.
pub fn execution_order(operations: &[BulkOperation]) -> Vec<usize> {
    let defined: HashMap<&str, usize> = operations
        .iter()
        .enumerate()
        .filter_map(|(i, op)| op.bulk_id.as_deref().map(|id| (id, i)))
        .collect();
    let needs: Vec<Vec<usize>> = operations
        .iter()
        .enumerate()
        .map(|(i, op)| {
            op.references()
                .iter()
                .filter_map(|r| defined.get(r.as_str()).copied())
                .filter(|&j| j != i)
                .collect()
        })
        .collect();
    let mut done = vec![false; operations.len()];
    let mut order = Vec::with_capacity(operations.len());
    while order.len() < operations.len() {
        let ready = (0..operations.len()).find(|&i| !done[i] && needs[i].iter().all(|&j| done[j]));
        // In a cycle nothing is ready: take the first remaining one and let it fail to resolve.
        let next = ready.or_else(|| (0..operations.len()).find(|&i| !done[i]));
        let Some(next) = next else { break };
        done[next] = true;
        order.push(next);
    }
    order
}

/// The outcome of one operation, as listed in the BulkResponse.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkResult {
    pub method: String,
    pub bulk_id: Option<String>,
    pub location: Option<String>,
    pub version: Option<String>,
    pub status: u16,
    /// The SCIM error of a failed operation.
    pub error: Option<Value>,
}

/// The BulkResponse, results in request order. `status` is a string, as in RFC 7644's examples.
pub fn bulk_response(results: &[BulkResult]) -> Value {
    let operations: Vec<Value> = results
        .iter()
        .map(|r| {
            let mut op = Map::new();
            op.insert("method".into(), json!(r.method));
            if let Some(id) = &r.bulk_id {
                op.insert("bulkId".into(), json!(id));
            }
            if let Some(location) = &r.location {
                op.insert("location".into(), json!(location));
            }
            if let Some(version) = &r.version {
                op.insert("version".into(), json!(version));
            }
            op.insert("status".into(), json!(r.status.to_string()));
            if let Some(error) = &r.error {
                op.insert("response".into(), error.clone());
            }
            Value::Object(op)
        })
        .collect();
    json!({ "schemas": [BULK_RESPONSE_URN], "Operations": operations })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(ops: Value) -> Value {
        json!({ "schemas": [BULK_REQUEST_URN], "Operations": ops })
    }

    #[test]
    fn parses_operations_and_limits() {
        let body = json!({
            "schemas": [BULK_REQUEST_URN],
            "failOnErrors": 2,
            "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "x"}},
                {"method": "delete", "path": "/Users/42", "version": "W/\"3\""}
            ]
        });
        let parsed = parse_bulk_request(&body, 10);
        let parsed = parsed.as_ref().ok();
        assert_eq!(parsed.and_then(|r| r.fail_on_errors), Some(2));
        let ops = parsed.map(|r| r.operations.clone()).unwrap_or_default();
        assert_eq!(ops.len(), 2);
        assert_eq!(ops[1].method().ok(), Some(BulkMethod::Delete));
        assert_eq!(
            ops[1].target(BulkMethod::Delete).ok(),
            Some(BulkTarget { kind: ResourceKind::User, id: Some("42".into()) })
        );
        assert_eq!(ops[1].version.as_deref(), Some("W/\"3\""));
        assert_eq!(parse_bulk_request(&body, 1).err().map(|e| e.status), Some(413));
        let no_schema = json!({"Operations": []});
        assert_eq!(parse_bulk_request(&no_schema, 10).err().map(|e| e.status), Some(400));
        let twice = request(json!([
            {"method": "POST", "path": "/Users", "bulkId": "a", "data": {}},
            {"method": "POST", "path": "/Users", "bulkId": "a", "data": {}}
        ]));
        assert!(parse_bulk_request(&twice, 10).is_err());
        let zero = json!({"schemas": [BULK_REQUEST_URN], "failOnErrors": 0, "Operations": []});
        assert!(parse_bulk_request(&zero, 10).is_err());
    }

    #[test]
    fn paths_are_checked_against_the_method() {
        let op = |method: &str, path: &str, bulk_id: Option<&str>| BulkOperation {
            method_text: method.into(),
            bulk_id: bulk_id.map(str::to_owned),
            version: None,
            path: path.into(),
            data: None,
        };
        let target = |o: BulkOperation| o.method().and_then(|m| o.target(m)).map_err(|e| e.status);
        assert!(target(op("POST", "/Groups", Some("g"))).is_ok());
        assert_eq!(target(op("POST", "/Groups", None)), Err(400));
        assert_eq!(target(op("POST", "/Groups/1", Some("g"))), Err(400));
        assert_eq!(target(op("PATCH", "/Groups", None)), Err(400));
        assert_eq!(target(op("PATCH", "/Devices/1", None)), Err(400));
        assert_eq!(target(op("GET", "/Users/1", None)), Err(400));
        assert!(target(op("put", "users/1", None)).is_ok());
    }

    #[test]
    fn bulk_ids_resolve_in_dependency_order_and_unknown_ones_conflict() {
        let body = request(json!([
            {"method": "POST", "path": "/Groups", "bulkId": "g",
             "data": {"displayName": "G", "members": [{"value": "bulkId:u"}]}},
            {"method": "POST", "path": "/Users", "bulkId": "u", "data": {"userName": "u"}},
            {"method": "PATCH", "path": "/Users/bulkId:u", "data": {"Operations": []}}
        ]));
        let mut ops = parse_bulk_request(&body, 10).map(|r| r.operations).unwrap_or_default();
        assert_eq!(execution_order(&ops), vec![1, 0, 2]);
        let created: HashMap<String, String> = [("u".to_owned(), "id-u".to_owned())].into();
        assert!(ops[0].resolve(&created).is_ok());
        assert_eq!(
            ops[0].data.as_ref().map(|d| d["members"][0]["value"].clone()),
            Some(json!("id-u"))
        );
        assert!(ops[2].resolve(&created).is_ok());
        assert_eq!(ops[2].path, "/Users/id-u");
        let mut dangling = ops[0].clone();
        dangling.data = Some(json!({"members": [{"value": "bulkId:nope"}]}));
        assert_eq!(dangling.resolve(&created).err().map(|e| e.status), Some(409));
    }

    #[test]
    fn cycles_still_run_every_operation_once() {
        let body = request(json!([
            {"method": "POST", "path": "/Groups", "bulkId": "a", "data": {"members": [{"value": "bulkId:b"}]}},
            {"method": "POST", "path": "/Groups", "bulkId": "b", "data": {"members": [{"value": "bulkId:a"}]}}
        ]));
        let ops = parse_bulk_request(&body, 10).map(|r| r.operations).unwrap_or_default();
        assert_eq!(execution_order(&ops), vec![0, 1]);
    }

    #[test]
    fn response_lists_status_as_text_and_errors_in_full() {
        let doc = bulk_response(&[
            BulkResult {
                method: "POST".into(),
                bulk_id: Some("a".into()),
                location: Some("https://x/Users/1".into()),
                version: Some("W/\"1\"".into()),
                status: 201,
                error: None,
            },
            BulkResult {
                method: "DELETE".into(),
                bulk_id: None,
                location: None,
                version: None,
                status: 404,
                error: Some(json!({"status": "404"})),
            },
        ]);
        assert_eq!(doc["schemas"][0], BULK_RESPONSE_URN);
        assert_eq!(doc["Operations"][0]["status"], "201");
        assert_eq!(doc["Operations"][0]["location"], "https://x/Users/1");
        assert!(doc["Operations"][0].get("response").is_none());
        assert_eq!(doc["Operations"][1]["response"]["status"], "404");
    }
}
