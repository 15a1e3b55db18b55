//! The catalog as the vendor's app writes and reads it through `/api/v1`: one item at a time, a
//! page of one owner's items, or a whole owner's catalog replaced in one transaction. An owner
//! is the vendor (items every tenant sees) or one tenant.

use std::collections::HashSet;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::CatalogError;
use crate::clock::{Clock, to_rfc3339};
use crate::db::repo::assignments::{self, Held};
use crate::db::repo::catalog::{self, CatalogRow, CatalogWrite, Put, VENDOR_WIDE};
use crate::db::repo::tenants;
use crate::db::{Database, DbConnection, StoreError};
use crate::scim::catalog::{CatalogType, check_item_text, valid_item_id};
use crate::scim::resource::normalize_resource;
use crate::scim::schema::Registry;
use crate::service::delivery::outbox::EventTenant;
use crate::service::directory::cursor::Cursor;
use crate::service::directory::read::{Page, Paging};
use crate::service::provisioning::revoke_from_holders;
use crate::service::tenancy::api_keys::ApiPrincipal;

/// Most items one bulk replace may hold.
pub const REPLACE_MAX_ITEMS: usize = 10_000;

/// Whose catalog a request is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// Items every tenant sees.
    Vendor,
    /// One tenant's own items, by slug.
    Tenant(String),
}

/// An item as the API writes it: `PUT …/{id}` with this body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemBody {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Values of the type's schema extensions, by URN.
    #[serde(default)]
    pub extensions: Map<String, Value>,
}

/// One item of a bulk replace: the body plus its type and id.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplaceItem {
    #[serde(rename = "type")]
    type_id: String,
    id: String,
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    extensions: Map<String, Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplaceBody {
    items: Vec<ReplaceItem>,
}

/// How many items a bulk replace created, updated, left alone and deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Replaced {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub deleted: usize,
    /// Assignments revoked because their item was deleted.
    pub revoked: usize,
}

/// The rows an owner's items are stored under: `scope` '' for the vendor, else the tenant's id.
struct Scope {
    id: String,
    slug: Option<String>,
}

/// The catalog for one API key.
pub struct Catalog<'a> {
    pub db: &'a Database,
    pub clock: &'a dyn Clock,
    pub registry: &'a Registry,
    pub principal: &'a ApiPrincipal,
}

impl Catalog<'_> {
    /// Creates or rewrites one item (an identical rewrite changes nothing); answers whether it
    /// was created and the item as it now is.
    pub fn put(
        &self,
        owner: &Owner,
        type_id: &str,
        item_id: &str,
        body: &Value,
    ) -> Result<(bool, Value), CatalogError> {
        let t = self.catalog_type(type_id)?;
        check_id(item_id)?;
        let body: ItemBody = serde_json::from_value(body.clone())
            .map_err(|e| CatalogError::Invalid(format!("the item body is not valid: {e}")))?;
        let data = scim_data(t, &body.name, body.description.as_deref(), body.extensions)?;
        let now = self.clock.now();
        self.db.write(|conn| {
            let scope = self.scope(conn, owner, true)?;
            let write = write_of(&body.name, body.description.as_deref(), &data);
            let (put, row) = catalog::put(conn, &scope.id, t.id, item_id, &write, now)?;
            Ok((put == Put::Created, self.view(&row, scope.slug.as_deref())))
        })
    }

    /// One item of an owner.
    pub fn get(&self, owner: &Owner, type_id: &str, item_id: &str) -> Result<Value, CatalogError> {
        let t = self.catalog_type(type_id)?;
        self.db.read(|conn| {
            let scope = self.scope(conn, owner, false)?;
            let row = catalog::find(conn, &scope.id, t.id, item_id)?
                .ok_or_else(|| not_found(t, item_id))?;
            Ok(self.view(&row, scope.slug.as_deref()))
        })
    }

    /// Deletes one item and revokes it from the users that held it; answers how many did.
    pub fn delete(
        &self,
        owner: &Owner,
        type_id: &str,
        item_id: &str,
    ) -> Result<usize, CatalogError> {
        let t = self.catalog_type(type_id)?;
        let now = self.clock.now();
        self.db.write(|conn| {
            let scope = self.scope(conn, owner, true)?;
            let row = catalog::delete(conn, &scope.id, t.id, item_id)?
                .ok_or_else(|| not_found(t, item_id))?;
            self.revoke_deleted(conn, &scope, &row, now)
        })
    }

    /// A page of an owner's items, of one type or of all, in creation order.
    pub fn list(
        &self,
        owner: &Owner,
        type_id: Option<&str>,
        paging: &Paging,
    ) -> Result<Page, CatalogError> {
        let t = type_id.map(|id| self.catalog_type(id)).transpose()?;
        let after = paging.after_seq().map_err(|e| CatalogError::Invalid(e.to_string()))?;
        self.db.read(|conn| {
            let scope = self.scope(conn, owner, false)?;
            let mut rows =
                catalog::page_of_scope(conn, &scope.id, t.map(|t| t.id), after, paging.limit + 1)?;
            let more = rows.len() as i64 > paging.limit;
            rows.truncate(usize::try_from(paging.limit).unwrap_or(0));
            let next_cursor =
                more.then(|| rows.last().map(|row| Cursor::Seq(row.seq).encode())).flatten();
            // Items of types this server no longer serves are not shown (the cursor still
            // moves past them).
            rows.retain(|row| self.registry.catalog_type(&row.type_id).is_some());
            let data = rows.iter().map(|row| self.view(row, scope.slug.as_deref())).collect();
            Ok(Page { data, next_cursor })
        })
    }

    /// Replaces an owner's whole catalog, of every type this server serves, in one
    /// transaction: items not in `body` are deleted (and revoked from their holders).
    pub fn replace(&self, owner: &Owner, body: &Value) -> Result<Replaced, CatalogError> {
        let body: ReplaceBody = serde_json::from_value(body.clone())
            .map_err(|e| CatalogError::Invalid(format!("the catalog body is not valid: {e}")))?;
        if body.items.len() > REPLACE_MAX_ITEMS {
            return Err(CatalogError::Invalid(format!(
                "a catalog holds at most {REPLACE_MAX_ITEMS} items per request"
            )));
        }
        let mut seen = HashSet::new();
        let mut items = Vec::with_capacity(body.items.len());
        for item in body.items {
            let t = self.catalog_type(&item.type_id)?;
            check_id(&item.id)?;
            if !seen.insert((t.id, item.id.clone())) {
                return Err(CatalogError::Invalid(format!(
                    "{} '{}' is listed twice",
                    t.id, item.id
                )));
            }
            let data = scim_data(t, &item.name, item.description.as_deref(), item.extensions)?;
            items.push((t, item.id, item.name, item.description, data));
        }
        let now = self.clock.now();
        self.db.write(|conn| {
            let scope = self.scope(conn, owner, true)?;
            let mut done = Replaced::default();
            for t in self.registry.catalog() {
                for row in catalog::all_of_scope(conn, &scope.id, t.id)? {
                    if !seen.contains(&(t.id, row.item_id.clone())) {
                        catalog::delete(conn, &scope.id, t.id, &row.item_id)?;
                        done.revoked += self.revoke_deleted(conn, &scope, &row, now)?;
                        done.deleted += 1;
                    }
                }
            }
            for (t, id, name, description, data) in &items {
                let write = write_of(name, description.as_deref(), data);
                match catalog::put(conn, &scope.id, t.id, id, &write, now)?.0 {
                    Put::Created => done.created += 1,
                    Put::Updated => done.updated += 1,
                    Put::Unchanged => done.unchanged += 1,
                }
            }
            Ok(done)
        })
    }

    fn catalog_type(&self, type_id: &str) -> Result<&CatalogType, CatalogError> {
        self.registry.catalog_type(type_id).ok_or_else(|| {
            let served: Vec<&str> = self.registry.catalog().iter().map(|t| t.id).collect();
            let served = if served.is_empty() { "none".to_owned() } else { served.join(", ") };
            let shown: String = type_id.chars().take(64).collect();
            CatalogError::NotFound(format!(
                "this server serves no catalog type '{shown}' (it serves: {served})"
            ))
        })
    }

    /// The rows `owner`'s items live in, if this key may see them (and write them, when
    /// `writing`): a key confined to a tenant sees the vendor-wide items but writes only its
    /// tenant's.
    fn scope(
        &self,
        conn: &mut DbConnection,
        owner: &Owner,
        writing: bool,
    ) -> Result<Scope, CatalogError> {
        match owner {
            Owner::Vendor if writing && self.principal.tenant.is_some() => {
                Err(CatalogError::TenantForbidden)
            }
            Owner::Vendor => Ok(Scope { id: VENDOR_WIDE.to_owned(), slug: None }),
            Owner::Tenant(slug) if !self.principal.may_see(slug) => {
                Err(CatalogError::TenantForbidden)
            }
            Owner::Tenant(slug) => {
                let tenant = tenants::find_by_slug(conn, slug)?.ok_or_else(|| {
                    let shown: String = slug.chars().take(64).collect();
                    CatalogError::NotFound(format!("tenant '{shown}' not found"))
                })?;
                Ok(Scope { id: tenant.id, slug: Some(tenant.slug) })
            }
        }
    }

    /// After `row` was deleted from `scope`: revokes it from every user who no longer sees an
    /// item of that type and id (a tenant's own item keeps the vendor-wide one's holders).
    fn revoke_deleted(
        &self,
        conn: &mut DbConnection,
        scope: &Scope,
        row: &CatalogRow,
        now: i64,
    ) -> Result<usize, CatalogError> {
        let held = Held::new(row.type_id.clone(), row.item_id.clone());
        let name = row.display_name.as_str();
        let mut revoked = 0;
        match &scope.slug {
            Some(slug) => {
                if catalog::find(conn, VENDOR_WIDE, &row.type_id, &row.item_id)?.is_none() {
                    let tenant = EventTenant { id: &scope.id, slug };
                    revoked += revoke_from_holders(conn, self.registry, tenant, now, &held, name)?;
                }
            }
            None => {
                let shadowing: HashSet<String> =
                    catalog::shadowing_tenants(conn, &row.type_id, &row.item_id)?
                        .into_iter()
                        .collect();
                for tenant_id in assignments::tenants_holding(conn, &held)? {
                    if shadowing.contains(&tenant_id) {
                        continue;
                    }
                    let Some(tenant) = tenants::find(conn, &tenant_id)? else { continue };
                    let at = EventTenant { id: &tenant.id, slug: &tenant.slug };
                    revoked += revoke_from_holders(conn, self.registry, at, now, &held, name)?;
                }
            }
        }
        Ok(revoked)
    }

    /// An item as the API shows it.
    fn view(&self, row: &CatalogRow, tenant_slug: Option<&str>) -> Value {
        let data: Map<String, Value> = serde_json::from_str(&row.data).unwrap_or_default();
        let extensions: Map<String, Value> = data
            .into_iter()
            .filter(|(key, _)| key.to_ascii_lowercase().starts_with("urn:"))
            .collect();
        json!({
            "type": row.type_id,
            "id": row.item_id,
            "name": row.display_name,
            "description": row.description,
            "extensions": extensions,
            "tenant": tenant_slug,
            "version": row.version,
            "created_at": to_rfc3339(row.created_at),
            "updated_at": to_rfc3339(row.updated_at),
        })
    }
}

fn check_id(item_id: &str) -> Result<(), CatalogError> {
    if valid_item_id(item_id) {
        return Ok(());
    }
    Err(CatalogError::Invalid(
        "an item id is 1 to 256 letters, digits or -._~:@!$&'()*+,;= characters".into(),
    ))
}

fn not_found(t: &CatalogType, item_id: &str) -> CatalogError {
    let shown: String = item_id.chars().take(64).collect();
    CatalogError::NotFound(format!("{} '{shown}' not found", t.id))
}

/// The item's canonical SCIM attributes, checked against its type's schemas (extensions
/// included); `type` and `id` are added when it is served.
fn scim_data(
    t: &CatalogType,
    name: &str,
    description: Option<&str>,
    extensions: Map<String, Value>,
) -> Result<String, CatalogError> {
    check_item_text(name, description)?;
    let mut scim = Map::new();
    scim.insert("displayName".into(), Value::String(name.to_owned()));
    if let Some(description) = description {
        scim.insert("description".into(), Value::String(description.to_owned()));
    }
    for (urn, values) in extensions {
        if !urn.to_ascii_lowercase().starts_with("urn:") {
            return Err(CatalogError::Invalid(format!(
                "extensions are keyed by schema URN; '{}' is not one",
                urn.chars().take(64).collect::<String>()
            )));
        }
        scim.insert(urn, values);
    }
    Ok(normalize_resource(t.schemas, &Value::Object(scim))?.to_string())
}

fn write_of<'a>(name: &'a str, description: Option<&'a str>, data: &'a str) -> CatalogWrite<'a> {
    CatalogWrite { display_name: name, description, data }
}

/// Most items of one type the console shows per tenant.
pub const SHOWN_PER_TYPE: i64 = 500;

/// One catalog type as a tenant sees it, for the console.
#[derive(Debug, Clone)]
pub struct TypeListing {
    pub type_id: &'static str,
    pub name: &'static str,
    pub endpoint: &'static str,
    pub total: i64,
    pub items: Vec<ItemLine>,
}

/// One item a tenant sees: whose it is and how many of the tenant's users hold it.
#[derive(Debug, Clone)]
pub struct ItemLine {
    pub id: String,
    pub name: String,
    pub description: String,
    pub vendor_wide: bool,
    pub holders: i64,
}

/// What tenant `tenant_id` sees of every catalog type: its own items and the vendor-wide ones
/// it does not replace, the first `SHOWN_PER_TYPE` of each, with their holder counts.
pub fn tenant_view(
    db: &Database,
    registry: &Registry,
    tenant_id: &str,
) -> Result<Vec<TypeListing>, StoreError> {
    db.read(|conn| {
        let counts = assignments::holder_counts(conn, tenant_id)?;
        let mut out = Vec::new();
        for t in registry.catalog() {
            let total = catalog::count_visible(conn, tenant_id, t.id, None)?;
            let rows = catalog::page_visible(conn, tenant_id, t.id, None, None, 0, SHOWN_PER_TYPE)?;
            let items = rows
                .into_iter()
                .map(|row| ItemLine {
                    holders: counts
                        .get(&Held::new(t.id, row.item_id.clone()))
                        .copied()
                        .unwrap_or(0),
                    vendor_wide: row.is_vendor_wide(),
                    description: row.description.unwrap_or_default(),
                    name: row.display_name,
                    id: row.item_id,
                })
                .collect();
            out.push(TypeListing {
                type_id: t.id,
                name: t.name,
                endpoint: t.endpoint,
                total,
                items,
            });
        }
        Ok(out)
    })
}
