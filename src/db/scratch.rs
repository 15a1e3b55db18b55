//! For unit tests on real storage: a migrated database of its own, dropped afterwards — SQLite in
//! a temporary file, or a fresh PostgreSQL database when `SCIMD_TEST_POSTGRES` names a server (as
//! for the API tests).

use diesel::{Connection, RunQueryDsl};

use super::Database;

pub struct ScratchDatabase {
    pub db: Database,
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    SqliteFile(std::path::PathBuf),
    Postgres { admin_url: String, name: String },
}

impl ScratchDatabase {
    /// `pool_size` connections; `label` names the file or database, for whoever finds one left.
    pub fn new(label: &str, pool_size: u32) -> ScratchDatabase {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let (url, cleanup) = match std::env::var("SCIMD_TEST_POSTGRES") {
            Ok(base) if !base.is_empty() => {
                let base = base.trim_end_matches('/');
                let admin_url = format!("{base}/postgres");
                let name = format!("scimd_{label}_{id}");
                let mut conn = diesel::PgConnection::establish(&admin_url).expect("PostgreSQL");
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .expect("create a scratch database");
                (format!("{base}/{name}"), Cleanup::Postgres { admin_url, name })
            }
            _ => {
                let path = std::env::temp_dir().join(format!("scimd-{label}-{id}.db"));
                (format!("sqlite://{}", path.display()), Cleanup::SqliteFile(path))
            }
        };
        let db = Database::connect(&url, pool_size).expect("connect the scratch database");
        ScratchDatabase { db, url, cleanup }
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::SqliteFile(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Cleanup::Postgres { admin_url, name } => {
                if let Ok(mut conn) = diesel::PgConnection::establish(admin_url) {
                    let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = diesel::sql_query(drop).execute(&mut conn);
                }
            }
        }
    }
}
