//! Applies member changes to a group's membership rows, refusing members that are not users or
//! groups of the same tenant.

use std::collections::HashSet;

use serde_json::json;

use super::TenantContext;
use crate::db::DbConnection;
use crate::db::repo::memberships::{self, ID_CHUNK};
use crate::db::repo::resources::{self, ResourceTable, TenantTable};
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::filter::matches;
use crate::scim::hints::SchemaHints;
use crate::scim::list_patch::{Element, ListChange};
use crate::scim::schema::ResourceKind;

/// Which elements a change to a row-held list added and removed, for the events: (id, type)
/// each — a member's id and `User`/`Group`, a catalog item's id and type id.
#[derive(Debug, Default)]
pub(super) struct ListDelta {
    pub added: Vec<(String, String)>,
    pub removed: Vec<(String, String)>,
}

impl ListDelta {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }

    /// Folds a later change into this one: adding then removing a member is no change at all.
    pub fn then(&mut self, later: ListDelta) {
        for (id, kind) in later.removed {
            match self.added.iter().position(|added| *added == (id.clone(), kind.clone())) {
                Some(at) => {
                    self.added.remove(at);
                }
                None => self.removed.push((id, kind)),
            }
        }
        for (id, kind) in later.added {
            match self.removed.iter().position(|removed| *removed == (id.clone(), kind.clone())) {
                Some(at) => {
                    self.removed.remove(at);
                }
                None => self.added.push((id, kind)),
            }
        }
    }
}

/// Applies one change to the members of `group_id`; touches only the rows that change.
pub(super) fn apply(
    conn: &mut DbConnection,
    ctx: &TenantContext<'_>,
    group_id: &str,
    change: ListChange,
) -> ScimResult<ListDelta> {
    let tenant_id = ctx.tenant.as_str();
    let ids =
        |elements: Vec<Element>| -> Vec<String> { elements.into_iter().map(|e| e.value).collect() };
    let delta = match change {
        ListChange::Add(elements) => {
            let ids = ids(elements);
            let resolved = resolve(conn, tenant_id, group_id, &ids)?;
            let added = memberships::add_members(conn, tenant_id, group_id, &resolved)?;
            ListDelta { added, removed: Vec::new() }
        }
        ListChange::ReplaceAll(elements) => {
            let ids = ids(elements);
            let resolved = resolve(conn, tenant_id, group_id, &ids)?;
            let wanted: HashSet<&str> = resolved.iter().map(|(id, _)| id.as_str()).collect();
            let doomed: Vec<String> = memberships::member_ids(conn, group_id)?
                .into_iter()
                .filter(|(id, _)| !wanted.contains(id.as_str()))
                .map(|(id, _)| id)
                .collect();
            let removed = memberships::remove_members(conn, group_id, &doomed)?;
            let added = memberships::add_members(conn, tenant_id, group_id, &resolved)?;
            ListDelta { added, removed }
        }
        ListChange::Remove(elements) => ListDelta {
            added: Vec::new(),
            removed: memberships::remove_members(conn, group_id, &ids(elements))?,
        },
        ListChange::RemoveAll => {
            let all: Vec<String> =
                memberships::member_ids(conn, group_id)?.into_iter().map(|(id, _)| id).collect();
            ListDelta {
                added: Vec::new(),
                removed: memberships::remove_members(conn, group_id, &all)?,
            }
        }
        ListChange::RemoveMatching(filter) => {
            // Rare general filters (e.g. on `type`) are evaluated over the members themselves.
            let hints = SchemaHints::new(ctx.schemas_of(ResourceKind::Group));
            let filter = filter.into_filter();
            let doomed: Vec<String> = memberships::members_of(conn, &[group_id.to_owned()])?
                .into_iter()
                .filter(|m| {
                    let entry =
                        json!({"value": m.member_id, "type": m.member_type, "display": m.display});
                    matches(&filter, &entry, &hints)
                })
                .map(|m| m.member_id)
                .collect();
            ListDelta {
                added: Vec::new(),
                removed: memberships::remove_members(conn, group_id, &doomed)?,
            }
        }
    };
    Ok(delta)
}

/// Pairs each id with its type; refuses ids that are not users or groups of this tenant.
/// The members found stay locked until commit, so none can be deleted under the new membership.
fn resolve(
    conn: &mut DbConnection,
    tenant_id: &str,
    group_id: &str,
    ids: &[String],
) -> ScimResult<Vec<(String, String)>> {
    if ids.iter().any(|id| id == group_id) {
        return Err(ScimError::invalid_value("a group cannot be a member of itself"));
    }
    let mut resolved = Vec::with_capacity(ids.len());
    let mut missing: Vec<String> = Vec::new();
    for chunk in ids.chunks(ID_CHUNK) {
        let users = TenantTable { table: ResourceTable::Users, tenant_id };
        let users: HashSet<String> =
            resources::existing_ids_for_share(conn, users, chunk)?.into_iter().collect();
        let rest: Vec<String> = chunk.iter().filter(|id| !users.contains(*id)).cloned().collect();
        let groups: HashSet<String> = if rest.is_empty() {
            HashSet::new()
        } else {
            let groups = TenantTable { table: ResourceTable::Groups, tenant_id };
            resources::existing_ids_for_share(conn, groups, &rest)?.into_iter().collect()
        };
        for id in chunk {
            if users.contains(id) {
                resolved.push((id.clone(), "User".to_owned()));
            } else if groups.contains(id) {
                resolved.push((id.clone(), "Group".to_owned()));
            } else {
                missing.push(id.clone());
            }
        }
    }
    if let Some(first) = missing.first() {
        let more = match missing.len() {
            1 => String::new(),
            n => format!(" (and {} more)", n - 1),
        };
        return Err(ScimError::invalid_value(format!(
            "member '{first}' is not a User or Group of this tenant{more}"
        )));
    }
    Ok(resolved)
}
