//! `/Bulk`: runs each operation through the same use case as its single-resource request, one
//! transaction per operation (RFC 7644 §3.7 bulk requests are not atomic), in an order that
//! resolves `bulkId` references, and stops after `failOnErrors` failures.

use std::collections::HashMap;

use serde_json::Value;

use super::resources::Update;
use super::{ResourceId, TenantContext};
use crate::scim::bulk::{BulkMethod, BulkOperation, BulkRequest, BulkResult, execution_order};
use crate::scim::error::ScimResult;
use crate::scim::resource::Projection;
use crate::scim::version::{EntityTags, etag};

/// What a successful operation reports.
struct Done {
    status: u16,
    id: Option<String>,
    version: Option<i64>,
}

/// Runs the request; results come back in request order, without the operations never reached.
pub fn run(ctx: &TenantContext<'_>, request: BulkRequest) -> Vec<BulkResult> {
    let order = execution_order(&request.operations);
    let mut results: Vec<Option<BulkResult>> = vec![None; request.operations.len()];
    let mut created: HashMap<String, String> = HashMap::new();
    let mut errors = 0u64;
    let mut operations = request.operations;
    for index in order {
        if request.fail_on_errors.is_some_and(|limit| errors >= limit) {
            break;
        }
        let op = &mut operations[index];
        let outcome = op.resolve(&created).and_then(|()| execute(ctx, op));
        let kind = op.method().ok().and_then(|m| op.target(m).ok()).map(|t| t.kind);
        results[index] = Some(match outcome {
            Ok(done) => {
                if let (Some(bulk_id), Some(id)) = (&op.bulk_id, &done.id) {
                    created.insert(bulk_id.clone(), id.clone());
                }
                BulkResult {
                    method: op.method_text.clone(),
                    bulk_id: op.bulk_id.clone(),
                    location: kind
                        .zip(done.id)
                        .map(|(kind, id)| format!("{}{}/{id}", ctx.base, kind.endpoint())),
                    version: done.version.map(etag),
                    status: done.status,
                    error: None,
                }
            }
            Err(error) => {
                errors += 1;
                BulkResult {
                    method: op.method_text.clone(),
                    bulk_id: op.bulk_id.clone(),
                    location: None,
                    version: None,
                    status: error.status,
                    error: Some(error.to_json()),
                }
            }
        });
    }
    results.into_iter().flatten().collect()
}

fn execute(ctx: &TenantContext<'_>, op: &BulkOperation) -> ScimResult<Done> {
    let method = op.method()?;
    let target = op.target(method)?;
    let if_match = op.version.as_deref().map(EntityTags::parse).transpose()?;
    let if_match = if_match.as_ref();
    let id = ResourceId::from(target.id.clone().unwrap_or_default());
    let kind = target.kind;
    // Bulk results carry no resource bodies, so nothing is rendered beyond the id.
    let lean = Projection::parse(ctx.schemas_of(kind), Some("id"), None)?;
    let resources = ctx.resources(kind);
    let (status, written) = match method {
        BulkMethod::Post => (201, Some(resources.create(op.body()?, &lean)?)),
        BulkMethod::Put => {
            (200, Some(resources.update(&id, Update::Replace(op.body()?), if_match, &lean)?))
        }
        BulkMethod::Patch => {
            (200, Some(resources.update(&id, Update::Patch(op.body()?), if_match, &lean)?))
        }
        BulkMethod::Delete => {
            resources.delete(&id, if_match)?;
            (204, None)
        }
    };
    let created_id = written.as_ref().and_then(|r| r.json.get("id")).and_then(Value::as_str);
    Ok(Done {
        status,
        id: created_id.map(str::to_owned).or_else(|| target.id.clone()),
        version: written.map(|r| r.version),
    })
}
