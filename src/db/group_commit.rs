//! Group commit for SQLite's single writer. Writers that queue behind one another share one
//! transaction, each in a savepoint of its own, and the last of the group commits for all of them:
//! a burst of creates pays for one commit's page writes (the pages of the tables and indexes they
//! share) instead of one each. A writer still runs alone, returns its own error alone (its
//! savepoint is rolled back, the group goes on), and is answered only after the commit that holds
//! its changes, so an acknowledged write is exactly as durable as before. PostgreSQL has concurrent
//! writers and takes none of this.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};

use diesel::connection::{Connection, TransactionManager};
use diesel::prelude::*;

use super::{DbConnection, PooledConnection, StoreError};

/// Writers in one group at most: the first of them waits for the others' work before its answer.
const MAX_GROUP: usize = 32;

type Transactions = <DbConnection as Connection>::TransactionManager;

/// How a group ended: committed, or rolled back with why.
type Outcome = Arc<OnceLock<Result<(), String>>>;

#[derive(Default)]
pub struct GroupCommit {
    state: Mutex<State>,
    /// Rung when the writer's turn is free.
    turn: Condvar,
    /// Rung when a group ended.
    ended: Condvar,
}

#[derive(Default)]
struct State {
    /// A writer is running, or a group is committing.
    busy: bool,
    /// Writers waiting for their turn.
    waiting: usize,
    /// The open transaction between two writers of a group, with the group's outcome and size.
    open: Option<(PooledConnection, Outcome, usize)>,
}

impl GroupCommit {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` in the current group's transaction (opening one with `open` when there is
    /// none) and returns once that transaction ended: `f`'s own result if it committed.
    pub fn write<T, E>(
        &self,
        open: impl FnOnce() -> Result<PooledConnection, StoreError>,
        f: impl FnOnce(&mut DbConnection) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<diesel::result::Error> + From<StoreError>,
    {
        let mut state = self.lock();
        state.waiting += 1;
        while state.busy {
            state = self.turn.wait(state).unwrap_or_else(|p| p.into_inner());
        }
        state.waiting -= 1;
        state.busy = true;
        let joined = state.open.take();
        drop(state);
        let mut turn = Turn { group: self, holding: None };
        let (mut conn, outcome, size) = match joined {
            Some(open) => open,
            None => match begin(open) {
                Ok(conn) => (conn, Outcome::default(), 0),
                Err(err) => {
                    // No group was opened: the turn goes to the next writer.
                    self.group_ended(self.lock());
                    return Err(err.into());
                }
            },
        };
        // Held by the guard while `f` runs: if `f` panics, the group is rolled back and every
        // writer waiting on it is told, instead of waiting for ever.
        turn.holding = Some(outcome.clone());
        let result = <DbConnection as Connection>::transaction(&mut conn, f);
        turn.holding = None;
        // In error: the transaction could not be brought back to the savepoint, the group is over.
        let broken =
            Transactions::transaction_manager_status_mut(&mut conn).transaction_depth().is_err();
        let mut state = self.lock();
        if broken || state.waiting == 0 || size + 1 >= MAX_GROUP {
            drop(state);
            let ended = self.end_group(conn, &outcome, broken);
            return result.and_then(|value| ended.map(|()| value).map_err(E::from));
        }
        // Others are waiting: the next one carries on in this transaction.
        state.open = Some((conn, outcome.clone(), size + 1));
        state.busy = false;
        self.turn.notify_one();
        let value = result?;
        while outcome.get().is_none() {
            state = self.ended.wait(state).unwrap_or_else(|p| p.into_inner());
        }
        drop(state);
        match outcome.get() {
            Some(Err(why)) => Err(StoreError::Invariant(format!(
                "the transaction this write shared was rolled back: {why}"
            ))
            .into()),
            _ => Ok(value),
        }
    }

    /// A group is over: the next writer may start one, its writers may return.
    fn group_ended(&self, mut state: MutexGuard<'_, State>) {
        state.busy = false;
        self.turn.notify_one();
        self.ended.notify_all();
    }

    /// Commits the group's transaction (rolls it back when `broken`), tells its writers, and
    /// frees the turn.
    fn end_group(
        &self,
        mut conn: PooledConnection,
        outcome: &Outcome,
        broken: bool,
    ) -> Result<(), diesel::result::Error> {
        let ended = match broken {
            false => Transactions::commit_transaction(&mut conn),
            true => Err(diesel::result::Error::BrokenTransactionManager),
        };
        if ended.is_err() {
            let _ = Transactions::rollback_transaction(&mut conn);
        }
        let _ = outcome.set(ended.as_ref().map(drop).map_err(ToString::to_string));
        drop(conn);
        self.group_ended(self.lock());
        ended
    }
}

/// Opens a group's transaction, taking SQLite's write lock first: a deferred transaction that
/// reads first and writes later fails at once (SQLITE_BUSY, no waiting) when another process
/// (the CLI beside a running server) committed in between; a write as the first statement waits
/// out the busy timeout instead. It matches no row.
fn begin(
    open: impl FnOnce() -> Result<PooledConnection, StoreError>,
) -> Result<PooledConnection, StoreError> {
    let mut conn = open()?;
    Transactions::begin_transaction(&mut conn)?;
    let locked = diesel::sql_query(
        "UPDATE event_log_state SET pruned_through = pruned_through WHERE id = 0",
    )
    .execute(&mut *conn);
    if let Err(err) = locked {
        let _ = Transactions::rollback_transaction(&mut conn);
        return Err(err.into());
    }
    Ok(conn)
}

/// A writer's turn; dropped while it still holds the group's outcome only when the writer's
/// closure panicked: the group is then over, rolled back with the connection.
struct Turn<'a> {
    group: &'a GroupCommit,
    holding: Option<Outcome>,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let Some(outcome) = self.holding.take() else { return };
        let _ = outcome.set(Err("a writer of the group panicked".into()));
        self.group.group_ended(self.group.lock());
    }
}

#[cfg(test)]
mod tests {
    use diesel::RunQueryDsl;

    use crate::db::scratch::ScratchDatabase;
    use crate::db::{Database, StoreError};

    fn insert(db: &Database, n: i64) -> Result<(), StoreError> {
        db.write(|conn| {
            diesel::sql_query(format!("INSERT INTO group_commit_test (n) VALUES ({n})"))
                .execute(conn)
                .map(drop)
                .map_err(StoreError::from)
        })
    }

    fn numbers(db: &Database) -> Vec<i64> {
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = db.conn().unwrap();
        let rows: Vec<Row> = diesel::sql_query("SELECT n FROM group_commit_test ORDER BY n")
            .load(&mut *conn)
            .unwrap();
        rows.into_iter().map(|row| row.n).collect()
    }

    fn scratch() -> ScratchDatabase {
        let scratch = ScratchDatabase::new("group_commit", 8);
        scratch
            .db
            .write(|conn| {
                diesel::sql_query("CREATE TABLE group_commit_test (n BIGINT NOT NULL)")
                    .execute(conn)
                    .map_err(StoreError::from)
            })
            .unwrap();
        scratch
    }

    /// Threads writing at once, as concurrent requests do: every write is there afterwards, and
    /// each was there when its `write` returned (read back on another connection at once).
    #[test]
    fn concurrent_writers_are_each_committed_when_answered() {
        let scratch = scratch();
        std::thread::scope(|s| {
            for t in 0..8 {
                let db = &scratch.db;
                s.spawn(move || {
                    for i in 0..40 {
                        let n = t * 1000 + i;
                        insert(db, n).unwrap();
                        assert!(numbers(db).contains(&n), "{n} was answered before it committed");
                    }
                });
            }
        });
        assert_eq!(numbers(&scratch.db).len(), 320);
    }

    /// A writer that fails loses only its own changes, whoever it shared a transaction with.
    #[test]
    fn a_failing_writer_changes_nothing_and_the_others_commit() {
        let scratch = scratch();
        std::thread::scope(|s| {
            for t in 0..6_i64 {
                let db = &scratch.db;
                s.spawn(move || {
                    for i in 0..30 {
                        let n = t * 1000 + i;
                        let failed: Result<(), StoreError> = db.write(|conn| {
                            diesel::sql_query(format!(
                                "INSERT INTO group_commit_test VALUES ({n})"
                            ))
                            .execute(conn)?;
                            match n % 3 {
                                0 => Err(StoreError::Invariant("refused".into())),
                                _ => Ok(()),
                            }
                        });
                        assert_eq!(failed.is_err(), n % 3 == 0);
                    }
                });
            }
        });
        let kept = numbers(&scratch.db);
        assert_eq!(kept.len(), 6 * 20);
        assert!(kept.iter().all(|n| n % 3 != 0), "{kept:?}");
    }

    /// A writer that finds no free connection (or the database down) is refused, and the writers
    /// after it carry on.
    #[test]
    fn a_writer_without_a_connection_frees_the_turn() {
        let scratch = ScratchDatabase::new("group_commit_checkout", 1);
        let db = scratch.db.clone().with_checkout_timeout(std::time::Duration::from_millis(50));
        let held = db.conn().unwrap();
        let refused: Result<(), StoreError> = db.write(|_| Ok(()));
        assert!(refused.is_err());
        drop(held);
        let done: Result<(), StoreError> = db.write(|_| Ok(()));
        assert!(done.is_ok(), "{done:?}");
    }

    /// A writer whose closure panics ends its group (rolled back, the others of it told so), and
    /// the writers after it carry on: nobody waits for ever.
    #[test]
    fn a_panicking_writer_hangs_nobody() {
        let scratch = scratch();
        let outcomes: Vec<Result<(), StoreError>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8_i64)
                .map(|t| {
                    let db = &scratch.db;
                    s.spawn(move || match t {
                        3 => {
                            let panicked =
                                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                    let _: Result<(), StoreError> = db.write(|_| panic!("boom"));
                                }));
                            assert!(panicked.is_err());
                            Ok(())
                        }
                        _ => insert(db, t),
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        // Writers that shared the panicking one's transaction were told it was rolled back.
        let kept = numbers(&scratch.db);
        for (t, outcome) in outcomes.iter().enumerate() {
            let t = t as i64;
            if t != 3 {
                assert_eq!(outcome.is_ok(), kept.contains(&t), "writer {t}: {outcome:?}");
            }
        }
        insert(&scratch.db, 100).unwrap();
        assert!(numbers(&scratch.db).contains(&100));
    }
}
