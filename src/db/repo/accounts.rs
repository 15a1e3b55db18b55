//! Tenant admin and operator accounts: two tables with the same columns (tenant admins also
//! belong to a tenant), read and written by one set of functions that take the table.

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text};

use crate::db::DbConnection;
use crate::db::rows::AccountRow;

/// Which kind of account: the customer's (`admin_accounts`, sessions in `web_sessions`) or the
/// vendor's (`operator_accounts`, sessions in `operator_sessions`). Separate tables, so no tenant
/// admin session can ever reach an operator page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountTable {
    TenantAdmins,
    Operators,
}

/// Runs `$body` with `$t` naming the account table of `$table`, `$s` its session table, `$owner`
/// the session column naming the account and `$tenant` an expression for the account's tenant
/// (SQL NULL for operators, who have none).
macro_rules! on_accounts {
    ($table:expr, |$t:ident, $s:ident, $owner:ident, $tenant:ident| $body:expr) => {
        match $table {
            $crate::db::repo::accounts::AccountTable::TenantAdmins => {
                $crate::db::repo::accounts::on_accounts!(@arm admin_accounts, web_sessions, admin_id,
                    $crate::db::schema::admin_accounts::tenant_id.nullable(),
                    |$t, $s, $owner, $tenant| $body)
            }
            $crate::db::repo::accounts::AccountTable::Operators => {
                $crate::db::repo::accounts::on_accounts!(@arm operator_accounts, operator_sessions,
                    operator_id, $crate::db::repo::accounts::no_tenant(),
                    |$t, $s, $owner, $tenant| $body)
            }
        }
    };
    (@arm $accounts:ident, $sessions:ident, $owner_column:ident, $tenant_of:expr,
        |$t:ident, $s:ident, $owner:ident, $tenant:ident| $body:expr) => {{
        #[allow(unused_imports)]
        use $crate::db::schema::$accounts as $t;
        #[allow(unused_imports)]
        use $crate::db::schema::$sessions as $s;
        #[allow(unused_imports)]
        use $crate::db::schema::$sessions::$owner_column as $owner;
        #[allow(unused_variables)]
        let $tenant = $tenant_of;
        $body
    }};
}
pub(crate) use on_accounts;

/// The columns of an `AccountRow`, in its field order.
macro_rules! account_columns {
    ($t:ident, $tenant:expr) => {
        ($t::id, $tenant, $t::email, $t::email_ci, $t::password_hash, $t::disabled, $t::created_at)
    };
}
pub(crate) use account_columns;

/// The tenant column operators lack, as a typed SQL NULL.
pub(crate) fn no_tenant() -> diesel::expression::SqlLiteral<Nullable<Text>> {
    sql::<Nullable<Text>>("NULL")
}

/// Inserts an account; a tenant admin's row must name its tenant.
pub fn insert(conn: &mut DbConnection, table: AccountTable, row: &AccountRow) -> QueryResult<()> {
    macro_rules! common {
        ($t:ident) => {
            (
                $t::id.eq(&row.id),
                $t::email.eq(&row.email),
                $t::email_ci.eq(&row.email_ci),
                $t::password_hash.eq(&row.password_hash),
                $t::disabled.eq(row.disabled),
                $t::created_at.eq(row.created_at),
            )
        };
    }
    match table {
        AccountTable::TenantAdmins => {
            use crate::db::schema::admin_accounts as t;
            let tenant_id = row.tenant_id.as_deref().ok_or_else(|| {
                diesel::result::Error::QueryBuilderError("a tenant admin needs a tenant".into())
            })?;
            diesel::insert_into(t::table)
                .values((t::tenant_id.eq(tenant_id), common!(t)))
                .execute(conn)
                .map(drop)
        }
        AccountTable::Operators => {
            use crate::db::schema::operator_accounts as t;
            diesel::insert_into(t::table).values(common!(t)).execute(conn).map(drop)
        }
    }
}

pub fn find(
    conn: &mut DbConnection,
    table: AccountTable,
    id: &str,
) -> QueryResult<Option<AccountRow>> {
    on_accounts!(table, |t, _s, _owner, tenant| {
        t::table
            .filter(t::id.eq(id))
            .select(account_columns!(t, tenant))
            .get_result(conn)
            .optional()
    })
}

pub fn find_by_email(
    conn: &mut DbConnection,
    table: AccountTable,
    email_ci: &str,
) -> QueryResult<Option<AccountRow>> {
    on_accounts!(table, |t, _s, _owner, tenant| {
        t::table
            .filter(t::email_ci.eq(email_ci))
            .select(account_columns!(t, tenant))
            .get_result(conn)
            .optional()
    })
}

/// Every account of the table, oldest first.
pub fn list(conn: &mut DbConnection, table: AccountTable) -> QueryResult<Vec<AccountRow>> {
    on_accounts!(table, |t, _s, _owner, tenant| {
        t::table.order((t::created_at, t::id)).select(account_columns!(t, tenant)).load(conn)
    })
}

/// A tenant's admins, oldest first.
pub fn list_tenant_admins(
    conn: &mut DbConnection,
    tenant_id: &str,
) -> QueryResult<Vec<AccountRow>> {
    use crate::db::schema::admin_accounts as t;
    t::table
        .filter(t::tenant_id.eq(tenant_id))
        .order((t::created_at, t::id))
        .select(account_columns!(t, t::tenant_id.nullable()))
        .load(conn)
}

pub fn set_password(
    conn: &mut DbConnection,
    table: AccountTable,
    id: &str,
    hash: &str,
) -> QueryResult<usize> {
    on_accounts!(table, |t, _s, _owner, _tenant| {
        diesel::update(t::table.find(id)).set(t::password_hash.eq(hash)).execute(conn)
    })
}

pub fn set_disabled(
    conn: &mut DbConnection,
    table: AccountTable,
    id: &str,
    disabled: bool,
) -> QueryResult<usize> {
    on_accounts!(table, |t, _s, _owner, _tenant| {
        diesel::update(t::table.find(id)).set(t::disabled.eq(disabled)).execute(conn)
    })
}
