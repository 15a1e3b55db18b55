//! The directory API's use cases: tenants, users (with their groups), groups and group members,
//! as an API key may see them, one snapshot per request. A page is one query, plus one for the
//! groups of a page's users; the JSON shape is `view`'s.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::cursor::{BadCursor, Cursor};
use crate::clock::to_rfc3339;
use crate::db::repo::directory::{self, MemberEntry, UserFilter};
use crate::db::repo::memberships;
use crate::db::repo::resources::{self, ResourceRow, ResourceTable, TenantTable};
use crate::db::repo::tenants;
use crate::db::rows::TenantRow;
use crate::db::{Database, DbConnection, StoreError};
use crate::scim::schema::Registry;
use crate::scim::schema::ResourceKind;
use crate::service::provisioning::{lists_of_users, raw_resource};
use crate::service::tenancy::api_keys::ApiPrincipal;

use super::view::{self, GroupRef};

/// Page size when none is asked for, and the most one page holds.
pub const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 1000;

/// Why a read was refused; each is one JSON error of the API.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A parameter is malformed (400 `invalid_request`).
    #[error("{0}")]
    Invalid(String),
    /// The key is confined to another tenant (403 `tenant_forbidden`), whether `slug` exists or not.
    #[error("this API key is confined to another tenant")]
    TenantForbidden,
    /// 404 `not_found`.
    #[error("{0} not found")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for ReadError {
    fn from(err: diesel::result::Error) -> Self {
        ReadError::Store(StoreError::Query(err))
    }
}

impl From<BadCursor> for ReadError {
    fn from(err: BadCursor) -> Self {
        ReadError::Invalid(err.to_string())
    }
}

/// `?after=&limit=` of a list, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paging {
    pub after: Option<Cursor>,
    pub limit: i64,
}

impl Paging {
    pub fn parse(after: Option<&str>, limit: Option<&str>) -> Result<Paging, ReadError> {
        let after = after.map(Cursor::decode).transpose()?;
        let limit = match limit {
            None => DEFAULT_LIMIT,
            Some(text) => {
                text.parse::<i64>().ok().filter(|n| (1..=MAX_LIMIT).contains(n)).ok_or_else(
                    || {
                        ReadError::Invalid(format!(
                            "limit must be a whole number from 1 to {MAX_LIMIT}"
                        ))
                    },
                )?
            }
        };
        Ok(Paging { after, limit })
    }

    /// The `seq` a users or groups page starts after.
    pub fn after_seq(&self) -> Result<i64, ReadError> {
        match &self.after {
            None => Ok(0),
            Some(Cursor::Seq(seq)) => Ok(*seq),
            Some(_) => Err(BadCursor.into()),
        }
    }
}

/// One page of a list and the cursor of the next (`None`: this was the last page).
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub data: Vec<Value>,
    pub next_cursor: Option<String>,
}

/// Reads the directory for one API key.
pub struct Reader<'a> {
    pub db: &'a Database,
    pub principal: &'a ApiPrincipal,
    /// The SCIM base URL (`https://host/scim/v2`) of `raw.meta.location`.
    pub scim_base: &'a str,
    /// Which catalog types users' roles and entitlements come from.
    pub registry: &'a Registry,
}

impl Reader<'_> {
    /// The tenants the key sees, by slug.
    pub fn tenants(&self, paging: &Paging) -> Result<Page, ReadError> {
        let after = match &paging.after {
            None => String::new(),
            Some(Cursor::Tenant(slug)) => slug.clone(),
            Some(_) => return Err(BadCursor.into()),
        };
        let only = self.principal.tenant.as_ref().map(|t| t.id.as_str());
        self.db.read(|conn| {
            let rows = directory::tenants_after(conn, &after, paging.limit + 1, only)?;
            let (rows, more) = split_page(rows, paging.limit);
            let next = more.then(|| rows.last().map(|t| Cursor::Tenant(t.slug.clone()).encode()));
            Ok(Page { data: rows.iter().map(tenant_view).collect(), next_cursor: next.flatten() })
        })
    }

    pub fn tenant(&self, slug: &str) -> Result<Value, ReadError> {
        self.db.read(|conn| Ok(tenant_view(&self.visible_tenant(conn, slug)?)))
    }

    pub fn users(
        &self,
        slug: &str,
        paging: &Paging,
        filter: &UserFilter,
    ) -> Result<Page, ReadError> {
        let after = paging.after_seq()?;
        self.db.read(|conn| {
            let tenant = self.visible_tenant(conn, slug)?;
            let rows = directory::users_after(conn, &tenant.id, after, paging.limit + 1, filter)?;
            let (rows, more) = split_page(rows, paging.limit);
            let next = more.then(|| rows.last().map(|(seq, _)| Cursor::Seq(*seq).encode()));
            let rows: Vec<ResourceRow> = rows.into_iter().map(|(_, row)| row).collect();
            let data = self.render_users(conn, &tenant.id, &rows)?;
            Ok(Page { data, next_cursor: next.flatten() })
        })
    }

    pub fn user(&self, slug: &str, id: &str) -> Result<Value, ReadError> {
        self.db.read(|conn| {
            let tenant = self.visible_tenant(conn, slug)?;
            let at = TenantTable { table: ResourceTable::Users, tenant_id: &tenant.id };
            let row = resources::find(conn, at, id)?.ok_or_else(|| not_found("user", id))?;
            let mut users = self.render_users(conn, &tenant.id, std::slice::from_ref(&row))?;
            Ok(users.pop().unwrap_or(Value::Null))
        })
    }

    pub fn groups(&self, slug: &str, paging: &Paging) -> Result<Page, ReadError> {
        let after = paging.after_seq()?;
        self.db.read(|conn| {
            let tenant = self.visible_tenant(conn, slug)?;
            let rows = directory::groups_after(conn, &tenant.id, after, paging.limit + 1)?;
            let (rows, more) = split_page(rows, paging.limit);
            let next = more.then(|| rows.last().map(|(seq, _)| Cursor::Seq(*seq).encode()));
            let data = rows.iter().map(|(_, row)| self.render_group(row)).collect();
            Ok(Page { data, next_cursor: next.flatten() })
        })
    }

    pub fn group(&self, slug: &str, id: &str) -> Result<Value, ReadError> {
        self.db.read(|conn| {
            let tenant = self.visible_tenant(conn, slug)?;
            let at = TenantTable { table: ResourceTable::Groups, tenant_id: &tenant.id };
            let row = resources::find(conn, at, id)?.ok_or_else(|| not_found("group", id))?;
            Ok(self.render_group(&row))
        })
    }

    /// A group's members: its users in their creation order, then its nested groups.
    pub fn members(&self, slug: &str, group_id: &str, paging: &Paging) -> Result<Page, ReadError> {
        let (in_users, after) = match &paging.after {
            None => (true, 0),
            Some(Cursor::UserMember(seq)) => (true, *seq),
            Some(Cursor::GroupMember(seq)) => (false, *seq),
            Some(_) => return Err(BadCursor.into()),
        };
        let limit = paging.limit;
        self.db.read(|conn| {
            let tenant = self.visible_tenant(conn, slug)?;
            let at = TenantTable { table: ResourceTable::Groups, tenant_id: &tenant.id };
            if resources::find(conn, at, group_id)?.is_none() {
                return Err(not_found("group", group_id));
            }
            let mut entries: Vec<(bool, MemberEntry)> = Vec::new();
            if in_users {
                let small = directory::member_count(conn, group_id)? <= directory::SMALL_GROUP;
                let users = directory::user_members_after(
                    conn,
                    &tenant.id,
                    group_id,
                    after,
                    limit + 1,
                    small,
                )?;
                entries.extend(users.into_iter().map(|m| (true, m)));
            }
            // Only when the users are done: at most one more query per page.
            let room = limit + 1 - entries.len() as i64;
            if room > 0 {
                let after_group = if in_users { 0 } else { after };
                let groups =
                    directory::group_members_after(conn, &tenant.id, group_id, after_group, room)?;
                entries.extend(groups.into_iter().map(|m| (false, m)));
            }
            let (entries, more) = split_page(entries, limit);
            let next = more.then(|| {
                entries.last().map(|(user, m)| {
                    if *user { Cursor::UserMember(m.seq) } else { Cursor::GroupMember(m.seq) }
                        .encode()
                })
            });
            let data = entries
                .iter()
                .map(|(_, m)| view::member(&m.id, &m.member_type, m.name.as_deref()))
                .collect();
            Ok(Page { data, next_cursor: next.flatten() })
        })
    }

    /// The tenant `slug` names if this key may see it: a confined key is refused any other slug
    /// before a query runs, so it learns nothing about which tenants exist.
    fn visible_tenant(&self, conn: &mut DbConnection, slug: &str) -> Result<TenantRow, ReadError> {
        if !self.principal.may_see(slug) {
            return Err(ReadError::TenantForbidden);
        }
        tenants::find_by_slug(conn, slug)?.ok_or_else(|| not_found("tenant", slug))
    }

    /// Users with their groups: one query for the groups of all of them.
    fn render_users(
        &self,
        conn: &mut DbConnection,
        tenant_id: &str,
        rows: &[ResourceRow],
    ) -> Result<Vec<Value>, ReadError> {
        let mut groups: HashMap<String, Vec<GroupRef>> = HashMap::new();
        if !rows.is_empty() {
            let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
            for chunk in ids.chunks(memberships::ID_CHUNK) {
                for (member, id, name) in memberships::groups_of_member(conn, tenant_id, chunk)? {
                    groups.entry(member).or_default().push(GroupRef { id, name });
                }
            }
        }
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let mut held = lists_of_users(conn, self.registry, tenant_id, &ids)?;
        Ok(rows
            .iter()
            .map(|row| {
                let groups = groups.remove(&row.id).unwrap_or_default();
                let held = held.remove(&row.id).unwrap_or_default();
                let raw = raw_scim(self.scim_base, ResourceKind::User, row, &groups, held);
                view::user(row, &groups, raw)
            })
            .collect())
    }

    fn render_group(&self, row: &ResourceRow) -> Value {
        view::group(row, raw_scim(self.scim_base, ResourceKind::Group, row, &[], Vec::new()))
    }
}

fn not_found(what: &str, id: &str) -> ReadError {
    let shown: String = id.chars().take(64).collect();
    ReadError::NotFound(format!("{what} '{shown}'"))
}

/// The page of `limit` rows out of `limit + 1` read, and whether there are more.
fn split_page<T>(mut rows: Vec<T>, limit: i64) -> (Vec<T>, bool) {
    let limit = usize::try_from(limit).unwrap_or(0);
    let more = rows.len() > limit;
    rows.truncate(limit);
    (rows, more)
}

fn tenant_view(t: &TenantRow) -> Value {
    json!({"slug": t.slug, "name": t.name, "active": !t.disabled, "created_at": to_rfc3339(t.created_at)})
}

/// `raw`: the resource as SCIM shows it (a group without its members, paged at `/members`).
fn raw_scim(
    base: &str,
    kind: ResourceKind,
    row: &ResourceRow,
    groups: &[GroupRef],
    held: Vec<(&str, Value)>,
) -> Value {
    // A row whose JSON cannot be read was logged by the renderer; its `raw` is null.
    raw_resource(base, kind, row, groups, held).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_parameters_are_checked() {
        assert_eq!(Paging::parse(None, None).unwrap(), Paging { after: None, limit: 100 });
        assert_eq!(Paging::parse(None, Some("1000")).unwrap().limit, 1000);
        for bad in ["0", "1001", "-1", "ten", ""] {
            assert!(matches!(Paging::parse(None, Some(bad)), Err(ReadError::Invalid(_))), "{bad}");
        }
        assert!(matches!(Paging::parse(Some("nope!"), None), Err(ReadError::Invalid(_))));
        let tenant_cursor = Cursor::Tenant("acme".into()).encode();
        let paging = Paging::parse(Some(&tenant_cursor), None).unwrap();
        assert!(
            matches!(paging.after_seq(), Err(ReadError::Invalid(_))),
            "another endpoint's cursor"
        );
    }

    #[test]
    fn a_page_is_limit_rows_and_says_whether_more_follow() {
        assert_eq!(split_page(vec![1, 2, 3], 2), (vec![1, 2], true));
        assert_eq!(split_page(vec![1, 2], 2), (vec![1, 2], false));
        assert_eq!(split_page(Vec::<i32>::new(), 2), (vec![], false));
    }
}
