//! The two migration folders must mirror each other.

use std::collections::BTreeSet;

fn names(backend: &str) -> BTreeSet<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(backend);
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn sqlite_and_postgres_migrations_have_the_same_names() {
    let sqlite = names("sqlite");
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, names("postgres"));
    for name in &sqlite {
        for backend in ["sqlite", "postgres"] {
            for file in ["up.sql", "down.sql"] {
                let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("migrations")
                    .join(backend)
                    .join(name)
                    .join(file);
                assert!(path.exists(), "{} is missing", path.display());
            }
        }
    }
}

/// Rolling upgrades: the first node of a new release migrates the schema while nodes of the
/// previous release still serve. Every migration after the previous release's last one must
/// keep the previous release's statements working: its tables and columns stay, and nothing it
/// cannot fill becomes required.
#[test]
fn the_previous_release_keeps_working_on_the_migrated_schema() {
    use scimd::db::upgrade_check::{self, PREVIOUS_RELEASE};
    let database = crate::support::TestDatabase::new();
    let db = scimd::db::Database::open(&database.url, 1, 0, 5).unwrap();
    db.migrate_until(PREVIOUS_RELEASE).unwrap();
    let previous = upgrade_check::schema(&mut db.conn().unwrap()).unwrap();
    assert!(previous.contains_key("scim_users") && previous.contains_key("oauth_clients"));
    assert!(!previous.contains_key("oauth_client_secrets"), "migrated past the previous release");
    db.migrate_pending().unwrap();
    let current = upgrade_check::schema(&mut db.conn().unwrap()).unwrap();
    assert!(current.len() > previous.len(), "this release adds tables");
    let broken = upgrade_check::breaks(&previous, &current);
    assert!(broken.is_empty(), "not rolling-upgrade safe: {broken:#?}");
    let failures = upgrade_check::run_previous_statements(&mut db.conn().unwrap(), &previous);
    assert!(failures.is_empty(), "{failures:#?}");
}
