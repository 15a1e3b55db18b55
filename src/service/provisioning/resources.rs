//! The resource pipeline: create, read, list, update (PUT or PATCH) and delete for every type,
//! each one transaction within the caller's tenant. What differs per type comes from its
//! `ResourceType`; the skeleton (snapshot reads, row lock → If-Match → uniqueness → update →
//! index, delete with membership cleanup) is written here once.

use serde_json::Value;

use super::events::Events;
use super::members::{self, MemberDelta};
use super::resource_type::{Computed, Loading, ResourceType, resource_type};
use super::{ResourceId, TenantContext, render};
use crate::db::DbConnection;
use crate::db::filter_sql::{order_by, to_predicate};
use crate::db::repo::memberships;
use crate::db::repo::resources::{self, ColumnValues, ResourceRow, TenantTable};
use crate::db::repo::values;
use crate::db::value_index::index_rows;
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::hints::SchemaHints;
use crate::scim::member_patch::{MemberChange, SplitPatch, split_operations};
use crate::scim::patch::{apply_patch, parse_patch_request};
use crate::scim::query::ListQuery;
use crate::scim::resource::{Projection, normalize_resource};
use crate::scim::schema::{ResourceKind, ResourceSchemas};
use crate::scim::version::{EntityTags, check_if_match};

/// A resource as the client will see it, and its version for the `ETag`.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub json: Value,
    pub version: i64,
}

/// One page of a list and the number of resources matching, from one snapshot.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub total: u64,
    pub resources: Vec<Value>,
}

/// A PUT or PATCH request's body.
#[derive(Debug, Clone, Copy)]
pub enum Update<'a> {
    /// PUT: the body replaces every writable attribute (and, for groups, the member list).
    Replace(&'a Value),
    /// PATCH: all operations apply, or none. Member operations touch only the named rows.
    Patch(&'a Value),
}

impl TenantContext<'_> {
    /// The pipeline for resources of `kind` in this tenant.
    pub fn resources(&self, kind: ResourceKind) -> Resources<'_> {
        Resources { ctx: self, rt: resource_type(kind), schemas: self.schemas_of(kind) }
    }
}

/// The pipeline for one resource type within the caller's tenant.
pub struct Resources<'c> {
    ctx: &'c TenantContext<'c>,
    rt: &'static ResourceType,
    schemas: ResourceSchemas,
}

impl Resources<'_> {
    pub fn create(&self, body: &Value, projection: &Projection) -> ScimResult<Rendered> {
        let mut data = normalize_resource(self.schemas, body)?;
        let members = (self.rt.take_members)(&mut data)?;
        let now = self.ctx.clock.now();
        let columns = (self.rt.columns)(&data, now, 1)?;
        let id = ResourceId::generate();
        let with_members = members.is_some();
        let row = ResourceRow {
            id: id.as_str().to_owned(),
            tenant_id: self.tenant().to_owned(),
            created_at: now,
            updated_at: now,
            version: 1,
            data: columns.data().to_owned(),
        };
        self.ctx.db.write(|conn| {
            self.ensure_unique(conn, &columns, None)?;
            resources::insert(conn, self.tenant(), id.as_str(), now, &columns)?;
            self.write_index(conn, &id, &data)?;
            let events = self.events();
            let mut recorded = vec![events.created(conn, &row)?];
            if let Some(ids) = members {
                let delta = members::apply(conn, self.ctx, id.as_str(), MemberChange::Add(ids))?;
                recorded.extend(events.members_changed(conn, &row, delta)?);
            }
            events.record(conn, recorded)
        })?;
        if with_members {
            // Members are rendered with their current display names, which only the rows hold.
            return self.get(&id, projection);
        }
        // A new resource belongs to nothing yet: no need to read it back.
        let computed = self.rt.computed_attribute;
        let computed =
            (!projection.excludes(computed)).then(|| (computed, Value::Array(Vec::new())));
        let json = render::resource(self.ctx.base, self.rt.kind, &row, computed)?;
        Ok(Rendered { json: projection.apply(&json), version: 1 })
    }

    pub fn get(&self, id: &ResourceId, projection: &Projection) -> ScimResult<Rendered> {
        self.ctx.db.read(|conn| {
            let row =
                resources::find(conn, self.at(), id.as_str())?.ok_or_else(|| self.not_found(id))?;
            let version = row.version;
            let json = self
                .render_rows(conn, std::slice::from_ref(&row), projection)?
                .pop()
                .unwrap_or(Value::Null);
            Ok(Rendered { json, version })
        })
    }

    /// One page of resources and the total number matching, read from one snapshot.
    pub fn list(&self, query: &ListQuery) -> ScimResult<Page> {
        let (target, schemas, tenant) = (self.rt.filter_target, self.schemas, self.tenant());
        let predicate =
            || query.filter.as_ref().map(|f| to_predicate(target, schemas, tenant, f)).transpose();
        let order = query.sort.as_ref().map(|sort| order_by(target, schemas, sort)).transpose()?;
        self.ctx.db.read(|conn| {
            let total = resources::count(conn, self.at(), predicate()?)?.max(0) as u64;
            let offset = query.start_index.saturating_sub(1);
            if query.count == 0 || offset >= total {
                return Ok(Page { total, resources: Vec::new() });
            }
            let (offset, limit) = (offset as i64, query.count as i64);
            let rows = resources::list(conn, self.at(), predicate()?, order, offset, limit)?;
            Ok(Page { total, resources: self.render_rows(conn, &rows, &query.projection)? })
        })
    }

    /// PUT or PATCH, under the row lock and `If-Match`; answers the resource as it now is.
    pub fn update(
        &self,
        id: &ResourceId,
        update: Update<'_>,
        if_match: Option<&EntityTags>,
        projection: &Projection,
    ) -> ScimResult<Rendered> {
        let planned = self.plan(update)?;
        self.ctx.db.write(|conn| {
            let current = self.lock(conn, id, if_match)?;
            self.apply(conn, planned, &current)
        })?;
        self.get(id, projection)
    }

    /// Deletes under the row lock; the resource leaves every group it was in.
    pub fn delete(&self, id: &ResourceId, if_match: Option<&EntityTags>) -> ScimResult<()> {
        let tenant = self.tenant();
        self.ctx.db.write(|conn| {
            let current = self.lock(conn, id, if_match)?;
            let events = self.events();
            // Read before the rows go: the event shows the resource as it was.
            let deleted = events.deleted(conn, &current)?;
            if self.rt.kind.has_members() {
                memberships::remove_all_members(conn, id.as_str())?;
            }
            resources::delete(conn, self.at(), id.as_str())?;
            values::delete(conn, id.as_str())?;
            let now = self.ctx.clock.now();
            let left = memberships::remove_member_everywhere(conn, tenant, id.as_str(), now)?;
            let mut recorded = events.left_groups(conn, &current, &left)?;
            recorded.push(deleted);
            events.record(conn, recorded)
        })
    }

    fn events(&self) -> Events<'_> {
        Events { ctx: self.ctx, rt: self.rt }
    }

    fn tenant(&self) -> &str {
        self.ctx.tenant.as_str()
    }

    /// This type's table, as the caller's tenant sees it.
    fn at(&self) -> TenantTable<'_> {
        TenantTable { table: self.rt.table, tenant_id: self.tenant() }
    }

    fn not_found(&self, id: &ResourceId) -> ScimError {
        ScimError::not_found(format!("{} '{id}' not found", self.rt.kind.name()))
    }

    /// Checks an update before its transaction starts.
    fn plan(&self, update: Update<'_>) -> ScimResult<Planned> {
        Ok(match update {
            Update::Replace(body) => {
                let mut data = normalize_resource(self.schemas, body)?;
                let members = (self.rt.take_members)(&mut data)?;
                Planned::Replace { data, members }
            }
            Update::Patch(body) => {
                let ops = parse_patch_request(body)?;
                Planned::Patch(if self.rt.kind.has_members() {
                    split_operations(ops)?
                } else {
                    SplitPatch { members: Vec::new(), attributes: ops }
                })
            }
        })
    }

    /// Applies a planned update to the locked row `current` and records its events.
    fn apply(
        &self,
        conn: &mut DbConnection,
        planned: Planned,
        current: &ResourceRow,
    ) -> ScimResult<()> {
        let id = current.id.as_str();
        let mut delta = MemberDelta::default();
        let data = match planned {
            Planned::Replace { data, members } => {
                if self.rt.kind.has_members() {
                    let change = MemberChange::ReplaceAll(members.unwrap_or_default());
                    delta = members::apply(conn, self.ctx, id, change)?;
                }
                Some(data)
            }
            Planned::Patch(split) => {
                for change in split.members {
                    delta.then(members::apply(conn, self.ctx, id, change)?);
                }
                if split.attributes.is_empty() {
                    None
                } else {
                    let mut resource: Value = serde_json::from_str(&current.data)
                        .map_err(|_| ScimError::internal("stored resource is corrupt"))?;
                    let hints = SchemaHints::new(self.schemas);
                    apply_patch(&mut resource, &split.attributes, &hints)?;
                    Some(normalize_resource(self.schemas, &resource)?)
                }
            }
        };
        let Some(stored) = self.store_update(conn, current, data.as_ref(), !delta.is_empty())?
        else {
            return Ok(());
        };
        let events = self.events();
        let mut recorded = Vec::new();
        if stored.attributes_changed {
            recorded.push(events.updated(conn, current, &stored.row)?);
        }
        recorded.extend(events.members_changed(conn, &stored.row, delta)?);
        events.record(conn, recorded)
    }

    /// Takes the row lock of a resource about to be rewritten and checks `If-Match` against it.
    fn lock(
        &self,
        conn: &mut DbConnection,
        id: &ResourceId,
        if_match: Option<&EntityTags>,
    ) -> ScimResult<ResourceRow> {
        let current = resources::find_for_update(conn, self.at(), id.as_str())?
            .ok_or_else(|| self.not_found(id))?;
        check_if_match(if_match, current.version)?;
        Ok(current)
    }

    /// Writes a new version of a resource: its attributes when `data` differs from what is
    /// stored (Okta repeats identical updates, which then write nothing), else only a new version
    /// and lastModified when its members changed. Answers the row as it now is, if it changed.
    fn store_update(
        &self,
        conn: &mut DbConnection,
        current: &ResourceRow,
        data: Option<&Value>,
        members_changed: bool,
    ) -> ScimResult<Option<Stored>> {
        let now = self.ctx.clock.now().max(current.updated_at);
        let version = current.version + 1;
        if let Some(data) = data {
            let columns = (self.rt.columns)(data, now, version)?;
            // Stored JSON is canonical (normalised, schema order): equal text, nothing changed.
            if columns.data() != current.data {
                let id = ResourceId::from(current.id.clone());
                self.ensure_unique(conn, &columns, Some(&id))?;
                resources::update(conn, self.tenant(), &current.id, &columns)?;
                self.write_index(conn, &id, data)?;
                let data = columns.data().to_owned();
                let row = ResourceRow { updated_at: now, version, data, ..current.clone() };
                return Ok(Some(Stored { row, attributes_changed: true }));
            }
        }
        if members_changed {
            resources::touch(conn, self.at(), &current.id, now)?;
            let row = ResourceRow { updated_at: now, version, ..current.clone() };
            return Ok(Some(Stored { row, attributes_changed: false }));
        }
        Ok(None)
    }

    fn ensure_unique(
        &self,
        conn: &mut DbConnection,
        columns: &ColumnValues,
        except: Option<&ResourceId>,
    ) -> ScimResult<()> {
        let key = columns.unique_key();
        let holder = resources::id_by_unique_key(conn, self.at(), key)?;
        if holder.is_some_and(|holder| Some(holder.as_str()) != except.map(ResourceId::as_str)) {
            return Err((self.rt.taken)(columns.unique_value()));
        }
        Ok(())
    }

    /// Rebuilds the value index (filters on attributes without a column of their own).
    fn write_index(
        &self,
        conn: &mut DbConnection,
        id: &ResourceId,
        data: &Value,
    ) -> ScimResult<()> {
        let skip = self.rt.column_attributes;
        let rows = index_rows(self.schemas, self.tenant(), id.as_str(), data, skip);
        values::replace(conn, id.as_str(), &rows)?;
        Ok(())
    }

    /// Renders rows with their computed attribute, unless the projection leaves it out (then no
    /// membership row is read). A page costs one membership query, however many rows it has.
    fn render_rows(
        &self,
        conn: &mut DbConnection,
        rows: &[ResourceRow],
        projection: &Projection,
    ) -> ScimResult<Vec<Value>> {
        let name = self.rt.computed_attribute;
        let mut computed: Option<Computed> = if projection.excludes(name) || rows.is_empty() {
            None
        } else {
            let ids = rows.iter().map(|row| row.id.clone()).collect();
            let page = Loading { tenant_id: self.tenant(), base: self.ctx.base, ids };
            Some((self.rt.load_computed)(conn, &page)?)
        };
        rows.iter()
            .map(|row| {
                let value = computed.as_mut().map(|by_id| {
                    (name, by_id.remove(&row.id).unwrap_or_else(|| Value::Array(Vec::new())))
                });
                render::resource(self.ctx.base, self.rt.kind, row, value)
                    .map(|json| projection.apply(&json))
            })
            .collect()
    }
}

/// A resource's row after an update wrote it.
struct Stored {
    row: ResourceRow,
    /// False when only its members (and so its version) changed.
    attributes_changed: bool,
}

/// An update checked before its transaction starts.
enum Planned {
    Replace { data: Value, members: Option<Vec<String>> },
    Patch(SplitPatch),
}

/// `POST /.search` at the root: every type in turn (users, then groups), paged as one list.
/// Each type is sorted on its own, since an order across resource types is not defined.
/// `queries` holds one query per kind, all with the same `startIndex` and `count`.
pub fn list_all(
    ctx: &TenantContext<'_>,
    queries: Vec<(ResourceKind, ListQuery)>,
) -> ScimResult<Page> {
    let mut all = Page::default();
    let mut offset = queries.first().map_or(0, |(_, q)| q.start_index.saturating_sub(1));
    for (kind, mut query) in queries {
        // Counted even when the page is already full, for totalResults.
        query.count = query.count.saturating_sub(all.resources.len() as u64);
        query.start_index = offset + 1;
        let page = ctx.resources(kind).list(&query)?;
        all.total += page.total;
        offset = offset.saturating_sub(page.total);
        all.resources.extend(page.resources);
    }
    Ok(all)
}
