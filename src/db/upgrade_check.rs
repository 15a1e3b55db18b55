//! Rolling upgrades: while nodes of the previous release still serve, the schema has already
//! been migrated by the first new node. Migrations therefore only expand (new tables, new
//! columns that are nullable or have a default, new indexes); a column the previous release
//! uses is removed or made stricter only one release later (contract). This module lets a test
//! prove it: migrate to the previous release's last migration, record every table's columns,
//! migrate the rest, and run the previous release's statements against the new schema.

use std::collections::BTreeMap;

use diesel::migration::MigrationSource;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use diesel_migrations::MigrationHarness;

use super::{Database, DbConnection, StoreError, StoreResult};

/// The last migration of the previous release: nodes of that release may run against a schema
/// migrated past it. Move it forward at each release (and contract what it then allows).
pub const PREVIOUS_RELEASE: &str = include_str!("../../migrations/previous_release.txt");

/// One column as the schema declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    /// `NOT NULL` without a default: an INSERT that leaves it out fails.
    pub required: bool,
}

/// Every table's columns (diesel's own bookkeeping table left out).
pub type Schema = BTreeMap<String, Vec<Column>>;

impl Database {
    /// Runs migrations in order up to and including the one named `last`, on a fresh database
    /// opened with [`Database::open`].
    pub fn migrate_until(&self, last: &str) -> StoreResult<()> {
        let mut conn = self.conn()?;
        let source = super::migrations_for(&conn);
        let mut migrations = MigrationSource::<diesel::sqlite::Sqlite>::migrations(&source)
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        migrations.sort_by_key(|m| m.name().to_string());
        let names: Vec<String> = migrations.iter().map(|m| m.name().to_string()).collect();
        let Some(end) = names.iter().position(|n| n == last.trim()) else {
            return Err(StoreError::Migration(format!("no migration named '{}'", last.trim())));
        };
        drop(migrations);
        for _ in 0..=end {
            conn.run_next_migration(super::migrations_for(&conn))
                .map_err(|e| StoreError::Migration(e.to_string()))?;
        }
        Ok(())
    }

    /// Runs every pending migration.
    pub fn migrate_pending(&self) -> StoreResult<()> {
        self.migrate()
    }
}

#[derive(QueryableByName)]
struct ColumnRow {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Bool)]
    required: bool,
}

/// The schema as the database reports it.
pub fn schema(conn: &mut DbConnection) -> QueryResult<Schema> {
    let rows: Vec<ColumnRow> = match conn {
        DbConnection::Sqlite(c) => diesel::sql_query(
            "SELECT m.name AS table_name, p.name AS column_name, \
             (p.\"notnull\" = 1 AND p.dflt_value IS NULL \
             AND NOT (p.pk = 1 AND upper(p.type) = 'INTEGER')) AS required \
             FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' \
             AND m.name <> '__diesel_schema_migrations' ORDER BY m.name, p.cid",
        )
        .load(c)?,
        DbConnection::Postgres(c) => diesel::sql_query(
            "SELECT table_name::text AS table_name, column_name::text AS column_name, \
             (is_nullable = 'NO' AND column_default IS NULL) AS required \
             FROM information_schema.columns WHERE table_schema = current_schema() \
             AND table_name <> '__diesel_schema_migrations' ORDER BY table_name, ordinal_position",
        )
        .load(c)?,
    };
    let mut schema = Schema::new();
    for row in rows {
        schema
            .entry(row.table_name)
            .or_default()
            .push(Column { name: row.column_name, required: row.required });
    }
    Ok(schema)
}

/// What the new schema breaks for a node that still knows only `previous`: tables or columns it
/// reads that are gone, and columns it cannot fill (new, required, no default).
pub fn breaks(previous: &Schema, current: &Schema) -> Vec<String> {
    let mut broken = Vec::new();
    for (table, columns) in previous {
        let Some(now) = current.get(table) else {
            broken.push(format!("table {table} is gone"));
            continue;
        };
        for column in columns {
            match now.iter().find(|c| c.name == column.name) {
                None => broken.push(format!("column {table}.{} is gone", column.name)),
                Some(c) if c.required && !column.required => {
                    broken.push(format!("column {table}.{} became required", column.name));
                }
                Some(_) => {}
            }
        }
        for column in now.iter().filter(|c| c.required) {
            if !columns.iter().any(|c| c.name == column.name) {
                broken.push(format!(
                    "new column {table}.{} is NOT NULL without a default: the previous release's \
                     INSERTs leave it out",
                    column.name
                ));
            }
        }
    }
    broken
}

/// The previous release's statements on each of its tables, run against the current schema:
/// a SELECT of exactly its columns and an INSERT naming exactly them (of no rows).
pub fn run_previous_statements(conn: &mut DbConnection, previous: &Schema) -> Vec<String> {
    let mut failures = Vec::new();
    for (table, columns) in previous {
        let list = columns.iter().map(|c| format!("\"{}\"", c.name)).collect::<Vec<_>>().join(", ");
        for statement in [
            format!("SELECT {list} FROM \"{table}\" LIMIT 1"),
            format!("INSERT INTO \"{table}\" ({list}) SELECT {list} FROM \"{table}\" WHERE 1 = 0"),
        ] {
            if let Err(e) = diesel::sql_query(&statement).execute(conn) {
                failures.push(format!("{statement}: {e}"));
            }
        }
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, required: bool) -> Column {
        Column { name: name.into(), required }
    }

    #[test]
    fn expanding_breaks_nothing_and_contracting_is_named() {
        let previous: Schema = [("t".to_owned(), vec![col("id", false), col("a", true)])].into();
        let mut expanded = previous.clone();
        expanded.get_mut("t").unwrap().push(col("b", false));
        expanded.insert("u".into(), vec![col("x", true)]);
        assert!(breaks(&previous, &expanded).is_empty());

        let mut dropped = previous.clone();
        dropped.get_mut("t").unwrap().retain(|c| c.name != "a");
        assert_eq!(breaks(&previous, &dropped), vec!["column t.a is gone"]);
        let mut strict = expanded.clone();
        strict.get_mut("t").unwrap().push(col("c", true));
        assert!(breaks(&previous, &strict)[0].contains("new column t.c is NOT NULL"));
        let mut tightened = previous.clone();
        tightened.get_mut("t").unwrap()[0].required = true;
        assert_eq!(breaks(&previous, &tightened), vec!["column t.id became required"]);
        assert_eq!(breaks(&previous, &Schema::new()), vec!["table t is gone"]);
    }
}
