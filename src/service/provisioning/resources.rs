//! The resource pipeline: create, read, list, update (PUT or PATCH) and delete for every type,
//! each one transaction within the caller's tenant. What differs per type comes from its
//! `ResourceType`; the skeleton (snapshot reads, row lock → If-Match → uniqueness → update →
//! index, delete with membership cleanup) is written here once.

use serde_json::Value;

use super::events::Events;
use super::members::{self, ListDelta};
use super::resource_type::{Computed, Loading, ResourceType, resource_type};
use super::{ResourceId, TenantContext, assignments, render};
use crate::db::DbConnection;
use crate::db::filter_sql::{order_by, to_predicate};
use crate::db::repo::memberships;
use crate::db::repo::resources::{self, ColumnValues, ResourceRow, TenantTable};
use crate::db::repo::values;
use crate::db::rows::ValueRow;
use crate::db::value_index::index_rows;
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::hints::SchemaHints;
use crate::scim::list_patch::{
    Element, ListChange, MEMBERS, RowList, SplitPatch, drop_lists, split_operations, take_lists,
};
use crate::scim::patch::{apply_patch, parse_patch_request};
use crate::scim::query::ListQuery;
use crate::scim::resource::{Projection, check_multi_values, normalize_resource};
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
        let rt = resource_type(kind);
        let lists = rt.row_lists(self.schemas);
        Resources { ctx: self, rt, schemas: self.schemas_of(kind), lists }
    }
}

/// The pipeline for one resource type within the caller's tenant.
pub struct Resources<'c> {
    ctx: &'c TenantContext<'c>,
    rt: &'static ResourceType,
    schemas: ResourceSchemas,
    /// The attributes this type holds as rows here (members; catalog-backed roles, entitlements).
    lists: Vec<RowList>,
}

impl Resources<'_> {
    pub fn create(&self, body: &Value, projection: &Projection) -> ScimResult<Rendered> {
        let mut data = normalize_resource(self.schemas, body)?;
        let lists = take_lists(&mut data, &self.lists)?;
        check_multi_values(&data, None, self.ctx.max_multi_values)?;
        let now = self.ctx.clock.now();
        let columns = (self.rt.columns)(&data, now, 1)?;
        let id = ResourceId::generate();
        let with_lists = !lists.is_empty();
        let row = ResourceRow {
            id: id.as_str().to_owned(),
            tenant_id: self.tenant().to_owned(),
            created_at: now,
            updated_at: now,
            version: 1,
            data: columns.data().to_owned(),
        };
        self.write(|conn| {
            self.ensure_unique(conn, &columns, None)?;
            resources::insert(conn, self.tenant(), id.as_str(), now, &columns)?;
            // A new resource has no index rows to compare with.
            values::insert_new(conn, &self.index_of(&id, &data))?;
            let events = self.events();
            let mut recorded = vec![events.created(conn, &row)?];
            for (list, elements) in &lists {
                let add = ListChange::Add(elements.clone());
                let delta = self.apply_list(conn, id.as_str(), *list, add)?;
                recorded.extend(events.list_changed(conn, &row, *list, delta)?);
            }
            events.record(conn, recorded)
        })?;
        if with_lists {
            // List elements are rendered with their current display names, which only the
            // rows hold.
            return self.get(&id, projection);
        }
        // A new resource belongs to nothing yet: no need to read it back.
        let computed = self.rt.computed_attribute;
        let empty = std::iter::once(computed).chain(self.lists.iter().map(|l| l.name));
        let computed: Vec<(&str, Value)> = empty
            .filter(|name| !projection.excludes(name))
            .map(|name| (name, Value::Array(Vec::new())))
            .collect();
        let json = render::resource(self.ctx.base, self.rt.kind, &row, dedup(computed))?;
        Ok(Rendered { json: projection.apply(json), version: 1 })
    }

    /// The row, then its lists, each as last committed (no snapshot, so no `BEGIN`/`COMMIT` on
    /// PostgreSQL): the lists are read after the row, so they are never older than the version
    /// they are served with, and a revalidation with that ETag only succeeds while the version
    /// is still current.
    pub fn get(&self, id: &ResourceId, projection: &Projection) -> ScimResult<Rendered> {
        self.ctx.db.read_latest(|conn| {
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

    /// One page of resources and the total number matching, read from one snapshot. An
    /// unfiltered page may take its count, and an unsorted one its start, from this node's hints
    /// (`list_hints`): Okta's full import then costs the same per page at any depth.
    pub fn list(&self, query: &ListQuery) -> ScimResult<Page> {
        let target = (self.rt.filter_target)(self.ctx.schemas);
        let (schemas, tenant, kind) = (self.schemas, self.tenant(), self.rt.kind);
        let predicate =
            || query.filter.as_ref().map(|f| to_predicate(target, schemas, tenant, f)).transpose();
        let order = query.sort.as_ref().map(|sort| order_by(target, schemas, sort)).transpose()?;
        let hints = self.ctx.list_hints;
        let (whole, in_order) = (query.filter.is_none(), query.filter.is_none() && order.is_none());
        // Filtered lists (every IdP lookup) leave the hints alone.
        let read = whole.then(|| hints.snapshot(tenant));
        self.ctx.db.read(|conn| {
            let offset = query.start_index.saturating_sub(1);
            if !whole && query.count > 0 {
                // A filtered page first: a short one tells the total without counting (every
                // IdP lookup finds one resource or none).
                let (limit, skip) = (query.count as i64, offset as i64);
                let (rows, _) = resources::list(conn, self.at(), predicate()?, order, skip, limit)?;
                let total = match total_of_short_page(offset, rows.len(), query.count) {
                    Some(total) => total,
                    None => resources::count(conn, self.at(), predicate()?)?.max(0) as u64,
                };
                return Ok(Page {
                    total,
                    resources: self.render_rows(conn, &rows, &query.projection)?,
                });
            }
            let total = match read.as_ref().and_then(|_| hints.count(tenant, kind)) {
                Some(total) => total,
                None => {
                    let total = resources::count(conn, self.at(), predicate()?)?.max(0) as u64;
                    if let Some(read) = &read {
                        hints.remember_count(tenant, kind, read, total);
                    }
                    total
                }
            };
            if query.count == 0 || offset >= total {
                return Ok(Page { total, resources: Vec::new() });
            }
            let limit = query.count as i64;
            let after = in_order.then(|| hints.cursor(tenant, kind, query.start_index)).flatten();
            let (rows, last) = match after {
                Some(after) => resources::list_after(conn, self.at(), after, limit)?,
                None => {
                    let offset = offset as i64;
                    resources::list(conn, self.at(), predicate()?, order, offset, limit)?
                }
            };
            if let (Some(read), Some(last)) = (&read, last)
                && in_order
                && rows.len() as i64 == limit
            {
                let next = query.start_index + query.count;
                hints.remember_cursor(tenant, kind, read, next, last);
            }
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
        self.write(|conn| {
            let current = self.lock(conn, id, if_match)?;
            self.apply(conn, planned.clone(), &current)
        })?;
        self.get(id, projection)
    }

    /// Deletes under the row lock; the resource leaves every group it was in.
    pub fn delete(&self, id: &ResourceId, if_match: Option<&EntityTags>) -> ScimResult<()> {
        let tenant = self.tenant();
        self.write(|conn| {
            let current = self.lock(conn, id, if_match)?;
            let events = self.events();
            // Read before the rows go: the event shows the resource as it was.
            let deleted = events.deleted(conn, &current)?;
            if self.rt.kind.has_members() {
                memberships::remove_all_members(conn, id.as_str())?;
            }
            // Before the row goes: its memberships would go with it (the foreign keys cascade),
            // unseen by the groups' versions and events.
            let now = self.ctx.clock.now();
            let left = memberships::remove_member_everywhere(conn, tenant, id.as_str(), now)?;
            resources::delete(conn, self.at(), id.as_str())?;
            values::delete(conn, id.as_str())?;
            let mut recorded = events.left_groups(conn, &current, &left)?;
            recorded.push(deleted);
            events.record(conn, recorded)
        })
    }

    /// One write transaction (retried on conflict); once it is over, this node's list hints
    /// about the tenant stop holding.
    fn write<T: Send>(
        &self,
        f: impl FnMut(&mut DbConnection) -> ScimResult<T> + Send,
    ) -> ScimResult<T> {
        let done = self.ctx.db.write_retrying(f);
        self.ctx.list_hints.wrote(self.tenant());
        done
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
                let lists = take_lists(&mut data, &self.lists)?;
                Planned::Replace { data, lists }
            }
            Update::Patch(body) => {
                Planned::Patch(split_operations(parse_patch_request(body)?, &self.lists)?)
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
        let mut deltas: Vec<(RowList, ListDelta)> =
            self.lists.iter().map(|l| (*l, ListDelta::default())).collect();
        let mut change_list = |conn: &mut DbConnection, list: RowList, change| -> ScimResult<()> {
            let delta = self.apply_list(conn, id, list, change)?;
            if let Some((_, total)) = deltas.iter_mut().find(|(l, _)| *l == list) {
                total.then(delta);
            }
            Ok(())
        };
        let data = match planned {
            Planned::Replace { data, mut lists } => {
                // PUT replaces every list: one it does not name becomes empty.
                for list in self.lists.clone() {
                    let at = lists.iter().position(|(l, _)| *l == list);
                    let elements = at.map(|at| lists.swap_remove(at).1).unwrap_or_default();
                    change_list(conn, list, ListChange::ReplaceAll(elements))?;
                }
                Some(data)
            }
            Planned::Patch(split) => {
                for (list, change) in split.lists {
                    change_list(conn, list, change)?;
                }
                if split.attributes.is_empty() {
                    None
                } else {
                    let mut resource: Value = serde_json::from_str(&current.data)
                        .map_err(|_| ScimError::internal("stored resource is corrupt"))?;
                    let hints = SchemaHints::new(self.schemas);
                    apply_patch(&mut resource, &split.attributes, &hints)?;
                    let mut data = normalize_resource(self.schemas, &resource)?;
                    // Values stored before the catalog backed a list are its rows' now.
                    drop_lists(&mut data, &self.lists);
                    Some(data)
                }
            }
        };
        let lists_changed = deltas.iter().any(|(_, d)| !d.is_empty());
        let Some(stored) = self.store_update(conn, current, data.as_ref(), lists_changed)? else {
            return Ok(());
        };
        let events = self.events();
        let mut recorded = Vec::new();
        if stored.attributes_changed {
            recorded.push(events.updated(conn, current, &stored.row)?);
        }
        for (list, delta) in deltas {
            recorded.extend(events.list_changed(conn, &stored.row, list, delta)?);
        }
        events.record(conn, recorded)
    }

    /// Applies one change to a row-held list of resource `id`.
    fn apply_list(
        &self,
        conn: &mut DbConnection,
        id: &str,
        list: RowList,
        change: ListChange,
    ) -> ScimResult<ListDelta> {
        if list == MEMBERS {
            members::apply(conn, self.ctx, id, change)
        } else {
            assignments::apply(conn, self.ctx, id, list, change)
        }
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
            let stored: Option<Value> = serde_json::from_str(&current.data).ok();
            check_multi_values(data, stored.as_ref(), self.ctx.max_multi_values)?;
            let columns = (self.rt.columns)(data, now, version)?;
            // Stored JSON is canonical (normalised, schema order): equal text, nothing changed.
            if columns.data() != current.data {
                let id = ResourceId::from(current.id.clone());
                self.ensure_unique(conn, &columns, Some(&id))?;
                resources::update(conn, self.tenant(), &current.id, &columns)?;
                values::sync(conn, id.as_str(), &self.index_of(&id, data))?;
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

    /// The value index rows of `data` (filters on attributes without a column of their own).
    fn index_of(&self, id: &ResourceId, data: &Value) -> Vec<ValueRow> {
        index_rows(self.schemas, self.tenant(), id.as_str(), data, self.rt.column_attributes)
    }

    /// Renders rows with their computed attribute and row-held lists, unless the projection
    /// leaves them out (then no row of theirs is read). A page costs one query per kind of row,
    /// however many resources it has.
    fn render_rows(
        &self,
        conn: &mut DbConnection,
        rows: &[ResourceRow],
        projection: &Projection,
    ) -> ScimResult<Vec<Value>> {
        let name = self.rt.computed_attribute;
        let ids = || rows.iter().map(|row| row.id.clone()).collect::<Vec<_>>();
        let mut computed: Option<Computed> = if projection.excludes(name) || rows.is_empty() {
            None
        } else {
            let page = Loading { tenant_id: self.tenant(), base: self.ctx.base, ids: ids() };
            Some((self.rt.load_computed)(conn, &page)?)
        };
        let wants_held = self.rt.holds_catalog_items
            && !rows.is_empty()
            && self.lists.iter().any(|l| !projection.excludes(l.name));
        let mut held = if wants_held {
            assignments::lists_of_users(conn, self.ctx.schemas, self.tenant(), &ids())?
        } else {
            Default::default()
        };
        rows.iter()
            .map(|row| {
                let mut values: Vec<(&str, Value)> = Vec::new();
                if let Some(by_id) = computed.as_mut() {
                    let value = by_id.remove(&row.id).unwrap_or_else(|| Value::Array(Vec::new()));
                    values.push((name, value));
                }
                let lists = held.remove(&row.id).unwrap_or_default();
                values.extend(lists.into_iter().filter(|(n, _)| !projection.excludes(n)));
                render::resource(self.ctx.base, self.rt.kind, row, values)
                    .map(|json| projection.apply(json))
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

/// An update checked before its transaction starts (cloned for each run of the transaction).
#[derive(Clone)]
enum Planned {
    Replace { data: Value, lists: Vec<(RowList, Vec<Element>)> },
    Patch(SplitPatch),
}

/// Computed values without repeats (a group's `members` is both its computed attribute and a
/// row-held list).
fn dedup(values: Vec<(&str, Value)>) -> Vec<(&str, Value)> {
    let mut out: Vec<(&str, Value)> = Vec::with_capacity(values.len());
    for (name, value) in values {
        if !out.iter().any(|(n, _)| *n == name) {
            out.push((name, value));
        }
    }
    out
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

/// The number of matches, known from a page read in the same snapshot when the page came out
/// short of `count`: nothing follows it. A page of `count` rows, or an empty one past the first
/// (the offset may exceed the matches), does not tell.
fn total_of_short_page(offset: u64, rows: usize, count: u64) -> Option<u64> {
    let rows = rows as u64;
    (rows < count && (rows > 0 || offset == 0)).then_some(offset + rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_page_tells_the_total_and_a_full_or_empty_later_one_does_not() {
        let cases = [
            // (offset, rows, count) → total
            ((0, 0, 100), Some(0)),
            ((0, 1, 100), Some(1)),
            ((0, 99, 100), Some(99)),
            ((0, 100, 100), None),
            ((200, 5, 100), Some(205)),
            ((200, 0, 100), None),
            ((200, 100, 100), None),
            ((0, 1, 1), None),
        ];
        for ((offset, rows, count), total) in cases {
            assert_eq!(total_of_short_page(offset, rows, count), total, "{offset} {rows} {count}");
        }
    }
}
