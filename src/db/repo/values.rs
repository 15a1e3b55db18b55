//! Maintains the filter index rows of one resource: only the rows of what changed are written,
//! so renaming a user with a thousand emails touches none of their rows.

use std::collections::BTreeMap;

use diesel::prelude::*;

use crate::db::rows::ValueRow;
use crate::db::schema::resource_values;
use crate::db::{DbConnection, native};

/// Brings the stored index rows of `resource_id` to `rows`. Rows are compared per
/// (attribute, element), the unit a value-path filter reads together: a unit whose rows differ in
/// any way is deleted and written again; an equal unit is left alone. Answers how many rows were
/// written.
pub fn sync(conn: &mut DbConnection, resource_id: &str, rows: &[ValueRow]) -> QueryResult<usize> {
    let stored: Vec<ValueRow> = native!(&mut *conn, |c| resource_values::table
        .filter(resource_values::resource_id.eq(resource_id))
        .select(ValueRow::as_select())
        .load(c))?;
    let old = units(&stored);
    let new = units(rows);
    for (&(attr, element), old_rows) in &old {
        if new.get(&(attr, element)).is_none_or(|new_rows| !same_rows(old_rows, new_rows)) {
            native!(&mut *conn, |c| diesel::delete(
                resource_values::table
                    .filter(resource_values::resource_id.eq(resource_id))
                    .filter(resource_values::attr.eq(attr))
                    .filter(resource_values::element.eq(element)),
            )
            .execute(c))?;
        }
    }
    let changed: Vec<ValueRow> = new
        .iter()
        .filter(|(key, new_rows)| !old.get(*key).is_some_and(|old| same_rows(old, new_rows)))
        .flat_map(|(_, new_rows)| new_rows.iter().map(|row| (*row).clone()))
        .collect();
    super::insert_rows!(conn, resource_values::table, &changed, ROWS_PER_INSERT);
    Ok(changed.len())
}

/// Writes the index rows of a resource created in this transaction: nothing is stored to
/// compare them with, so no read first.
pub fn insert_new(conn: &mut DbConnection, rows: &[ValueRow]) -> QueryResult<usize> {
    super::insert_rows!(conn, resource_values::table, rows, ROWS_PER_INSERT);
    Ok(rows.len())
}

/// Index rows per INSERT: a user has about seven.
const ROWS_PER_INSERT: usize = 4;

/// Rows by (attribute, element).
fn units(rows: &[ValueRow]) -> BTreeMap<(&str, &str), Vec<&ValueRow>> {
    let mut units: BTreeMap<(&str, &str), Vec<&ValueRow>> = BTreeMap::new();
    for row in rows {
        units.entry((row.attr.as_str(), row.element.as_str())).or_default().push(row);
    }
    units
}

/// The same rows, in any order (a unit holds a handful).
fn same_rows(a: &[&ValueRow], b: &[&ValueRow]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut unused: Vec<&ValueRow> = b.to_vec();
    a.iter().all(|row| match unused.iter().position(|other| *other == *row) {
        Some(at) => {
            unused.swap_remove(at);
            true
        }
        None => false,
    })
}

pub fn delete(conn: &mut DbConnection, resource_id: &str) -> QueryResult<()> {
    diesel::delete(resource_values::table.filter(resource_values::resource_id.eq(resource_id)))
        .execute(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::StoreError;
    use crate::db::scratch::ScratchDatabase;

    fn row(attr: &str, element: &str, value: &str) -> ValueRow {
        ValueRow {
            resource_id: "r1".into(),
            tenant_id: "t1".into(),
            attr: attr.into(),
            element: element.into(),
            value: value.into(),
            value_ci: value.to_lowercase(),
            value_num: None,
            value_key: value.to_lowercase(),
        }
    }

    fn stored(conn: &mut DbConnection) -> Vec<(String, String, String)> {
        let mut rows: Vec<(String, String, String)> = resource_values::table
            .filter(resource_values::resource_id.eq("r1"))
            .select((resource_values::attr, resource_values::element, resource_values::value))
            .load(conn)
            .unwrap();
        rows.sort();
        rows
    }

    #[test]
    fn only_units_that_differ_are_written() {
        let scratch = ScratchDatabase::new("values", 1);
        let db = &scratch.db;
        let first = vec![
            row("emails.value", "r1/emails/0", "a@x"),
            row("emails.type", "r1/emails/0", "work"),
            row("emails.value", "r1/emails/1", "b@x"),
            row("title", "", "Engineer"),
        ];
        let sync_to = |rows: &[ValueRow]| {
            db.write(|conn| Ok::<_, StoreError>(sync(conn, "r1", rows)?)).unwrap()
        };
        assert_eq!(sync_to(&first), 4);
        assert_eq!(sync_to(&first), 0, "nothing changed, nothing written");
        // One email changes, the title goes, a nickname comes: two units written.
        let second = vec![
            row("emails.value", "r1/emails/0", "a@x"),
            row("emails.type", "r1/emails/0", "work"),
            row("emails.value", "r1/emails/1", "c@x"),
            row("nickName", "", "Babs"),
        ];
        assert_eq!(sync_to(&second), 2);
        let want: Vec<(String, String, String)> = second
            .iter()
            .map(|r| (r.attr.clone(), r.element.clone(), r.value.clone()))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_eq!(stored(&mut db.conn().unwrap()), want);
    }
}
