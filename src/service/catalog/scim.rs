//! The catalog as the IdP reads it: each catalog type's SCIM endpoint lists (filter on `id` and
//! `displayName`, sort, `startIndex`/`count`) and gets the items the tenant sees, with Okta's
//! schema URNs. The IdP cannot write them: the vendor's app owns the catalog.

use serde_json::{Map, Value, json};

use crate::clock::to_rfc3339;
use crate::db::filter_sql::{ENTITLEMENT_ITEMS, FilterTarget, ROLE_ITEMS, order_by, to_predicate};
use crate::db::repo::catalog::{self, CatalogRow};
use crate::scim::catalog::CatalogType;
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::query::ListQuery;
use crate::scim::resource::Projection;
use crate::scim::version::etag;
use crate::service::provisioning::TenantContext;
use crate::service::provisioning::resources::{Page, Rendered};

/// One catalog type as one tenant sees it.
pub struct CatalogItems<'c> {
    pub ctx: &'c TenantContext<'c>,
    pub catalog_type: &'c CatalogType,
}

impl CatalogItems<'_> {
    fn target(&self) -> &'static FilterTarget {
        if self.catalog_type.is_role() { &ROLE_ITEMS } else { &ENTITLEMENT_ITEMS }
    }

    /// One page and the number of items matching, from one snapshot.
    pub fn list(&self, query: &ListQuery) -> ScimResult<Page> {
        let (t, tenant) = (self.catalog_type, self.ctx.tenant.as_str());
        let target = self.target();
        let predicate = || {
            query.filter.as_ref().map(|f| to_predicate(target, t.schemas, tenant, f)).transpose()
        };
        let order =
            query.sort.as_ref().map(|sort| order_by(target, t.schemas, sort)).transpose()?;
        self.ctx.db.read(|conn| {
            let total = catalog::count_visible(conn, tenant, t.id, predicate()?)?.max(0) as u64;
            let offset = query.start_index.saturating_sub(1);
            if query.count == 0 || offset >= total {
                return Ok(Page { total, resources: Vec::new() });
            }
            let (offset, limit) = (offset as i64, query.count as i64);
            let rows =
                catalog::page_visible(conn, tenant, t.id, predicate()?, order, offset, limit)?;
            let resources = rows
                .iter()
                .map(|row| self.render(row).map(|json| query.projection.apply(json)))
                .collect::<ScimResult<_>>()?;
            Ok(Page { total, resources })
        })
    }

    pub fn get(&self, item_id: &str, projection: &Projection) -> ScimResult<Rendered> {
        let (t, tenant) = (self.catalog_type, self.ctx.tenant.as_str());
        let row = self
            .ctx
            .db
            .read(|conn| -> ScimResult<_> {
                Ok(catalog::find_visible(conn, tenant, t.id, item_id)?)
            })?
            .ok_or_else(|| ScimError::not_found(format!("{} '{item_id}' not found", t.name)))?;
        let json = self.render(&row)?;
        Ok(Rendered { json: projection.apply(json), version: row.version })
    }

    /// `{schemas, id, displayName, type, description, …extensions, meta}`.
    fn render(&self, row: &CatalogRow) -> ScimResult<Value> {
        let t = self.catalog_type;
        let stored: Map<String, Value> = match serde_json::from_str(&row.data) {
            Ok(Value::Object(map)) => map,
            _ => {
                tracing::error!(item = row.item_id, "stored catalog item is not a JSON object");
                return Err(ScimError::internal("stored catalog item is corrupt; see the log"));
            }
        };
        let mut out = Map::with_capacity(stored.len() + 4);
        out.insert(
            "schemas".into(),
            stored.get("schemas").cloned().unwrap_or(json!([t.core().id])),
        );
        out.insert("id".into(), Value::String(row.item_id.clone()));
        for (key, value) in stored {
            if key == "displayName" {
                out.insert(key, value);
                if !t.is_role() {
                    out.insert("type".into(), Value::String(t.name.to_owned()));
                }
            } else if key != "schemas" {
                out.insert(key, value);
            }
        }
        out.insert(
            "meta".into(),
            json!({
                "resourceType": t.id,
                "created": to_rfc3339(row.created_at),
                "lastModified": to_rfc3339(row.updated_at),
                "location": format!("{}{}/{}", self.ctx.base, t.endpoint, row.item_id),
                "version": etag(row.version),
            }),
        );
        Ok(Value::Object(out))
    }
}
