//! The SQLite writer: one thread owns the write connection and group-commits.
//!
//! A caller sends its write unit (a closure over [`WriteTx`]) over a channel and awaits
//! the answer: one hand-off per store call, whatever the number of statements. The thread
//! takes every unit waiting in the queue (up to [`MAX_GROUP`]), runs them in one
//! `BEGIN IMMEDIATE` transaction, each inside its own `SAVEPOINT` — a unit that fails (or
//! panics) is rolled back to its savepoint and answered with its error, the others are
//! not affected — and ends the group with one `COMMIT`: one fsync (`synchronous=full`)
//! for all of them. A unit is answered only after that `COMMIT` returned, so an `Ok`
//! means "durable", as before; if the `COMMIT` fails, every unit of the group gets the
//! error.
//!
//! Units run on the writer thread, never on a tokio worker. They are written as async
//! code shared with PostgreSQL, but every `WriteTx` method completes at once: the thread
//! polls a unit's future once, and a unit that would wait is refused. If the thread is
//! gone, callers get an error, never a hang: sending fails, and a dropped answer channel
//! is an error.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::task::{Context, Poll, Waker};

use rusqlite::Connection;
use xkms_service::store::StoreError;

use crate::db_error::db_error;
use crate::query::Query;
use crate::rows::ColumnReader;
use crate::write::UnitFuture;

use super::read;

/// At most this many units share one transaction (one fsync).
pub(crate) const MAX_GROUP: usize = 64;

/// The write connection inside the group's transaction, as a unit sees it.
pub(crate) struct WriteTx {
    conn: Connection,
}

impl WriteTx {
    /// Runs a statement; the number of rows it changed.
    pub(crate) async fn execute(
        &mut self,
        query: Query,
        what: &'static str,
    ) -> Result<u64, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached(&query.sql)
            .map_err(db_error(what))?;
        read::bind(&mut statement, &query.binds, what)?;
        let changed = statement.raw_execute().map_err(db_error(what))?;
        Ok(u64::try_from(changed).unwrap_or(u64::MAX))
    }

    /// Runs a statement that returns rows (a `SELECT`, or a change `RETURNING`).
    pub(crate) async fn read_rows<A, F>(
        &mut self,
        query: Query,
        what: &'static str,
        acc: A,
        step: F,
    ) -> Result<A, StoreError>
    where
        F: FnMut(&mut A, &dyn ColumnReader) -> Result<(), StoreError>,
    {
        read::run(&self.conn, &query, what, acc, step)
    }

    /// Runs several `;`-separated statements without parameters (migrations).
    pub(crate) async fn execute_batch(
        &mut self,
        sql: &str,
        what: &'static str,
    ) -> Result<(), StoreError> {
        self.conn.execute_batch(sql).map_err(db_error(what))
    }
}

type Reply = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
/// Runs a unit; whether it succeeded, and how to answer its caller once the group's
/// fate is known.
type Job = Box<dyn FnOnce(&mut WriteTx) -> (bool, Reply) + Send>;

enum Command {
    Unit(Job),
    Close,
}

/// The handle callers send units through (clones share the one thread).
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    commands: mpsc::Sender<Command>,
}

impl Writer {
    /// Starts the writer thread on `conn`.
    pub(crate) fn start(conn: Connection) -> Result<Writer, StoreError> {
        let (commands, queue) = mpsc::channel();
        std::thread::Builder::new()
            .name("xkms-sqlite-writer".into())
            .spawn(move || run(WriteTx { conn }, &queue))
            .map_err(|e| StoreError::Backend(format!("start SQLite writer: {e}")))?;
        Ok(Writer { commands })
    }

    /// Runs `unit` in the next group and waits until that group committed.
    pub(crate) async fn submit<T, F>(&self, what: &'static str, unit: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'t> FnOnce(&'t mut WriteTx) -> UnitFuture<'t, T> + Send + 'static,
    {
        let (job, answered) = job(unit);
        self.commands
            .send(Command::Unit(job))
            .map_err(|_| writer_gone(what))?;
        answered.await.map_err(|_| writer_gone(what))?
    }

    /// Lets the thread finish what is queued and stop; later units fail.
    pub(crate) fn close(&self) {
        let _ = self.commands.send(Command::Close);
    }
}

/// A unit as the thread runs it, and where its answer arrives.
fn job<T, F>(unit: F) -> (Job, tokio::sync::oneshot::Receiver<Result<T, StoreError>>)
where
    T: Send + 'static,
    F: for<'t> FnOnce(&'t mut WriteTx) -> UnitFuture<'t, T> + Send + 'static,
{
    let (answer, answered) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move |tx: &mut WriteTx| {
        let result = run_now(unit(tx));
        let ok = result.is_ok();
        let reply: Reply = Box::new(move |commit: Result<(), StoreError>| {
            let _ = answer.send(match (result, commit) {
                (Ok(value), Ok(())) => Ok(value),
                (Ok(_), Err(e)) | (Err(e), _) => Err(e),
            });
        });
        (ok, reply)
    });
    (job, answered)
}

fn writer_gone(what: &'static str) -> StoreError {
    StoreError::Backend(format!(
        "{what}: the SQLite writer did not run this write (it stopped, could not begin a \
         transaction, or the write panicked); nothing of it was written"
    ))
}

/// Polls a unit's future once: `WriteTx` never waits, so a unit completes in one poll.
fn run_now<T>(mut future: UnitFuture<'_, T>) -> Result<T, StoreError> {
    let mut cx = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(result) => result,
        Poll::Pending => Err(StoreError::Backend(
            "write unit waited for something outside the SQLite writer".into(),
        )),
    }
}

/// The thread: groups of queued units, one transaction each, until closed or every
/// handle is gone.
fn run(mut tx: WriteTx, queue: &mpsc::Receiver<Command>) {
    while let Ok(first) = queue.recv() {
        let mut group = Vec::new();
        let mut close = false;
        let mut next = Some(first);
        while let Some(command) = next.take() {
            match command {
                Command::Unit(job) => group.push(job),
                Command::Close => {
                    close = true;
                    break;
                }
            }
            if group.len() < MAX_GROUP {
                next = queue.try_recv().ok();
            }
        }
        if !group.is_empty() {
            commit_group(&mut tx, group);
        }
        if close {
            break;
        }
    }
}

/// Runs `group` in one transaction, each unit in a savepoint, then commits and answers.
fn commit_group(tx: &mut WriteTx, group: Vec<Job>) {
    let mut committed: Vec<Reply> = Vec::with_capacity(group.len());
    let mut open = false;
    for job in group {
        if open && tx.conn.is_autocommit() {
            // SQLite rolled the whole transaction back (e.g. disk full): the units run
            // so far are lost. Answer them and start again.
            for reply in committed.drain(..) {
                reply(Err(StoreError::Backend(
                    "commit: the transaction was rolled back".into(),
                )));
            }
            open = false;
        }
        if !open {
            if let Err(e) = tx.conn.execute_batch("BEGIN IMMEDIATE") {
                let error = db_error("begin transaction")(e);
                tracing::error!(%error, "SQLite writer cannot start a transaction");
                // Dropping the job drops its answer channel: the caller gets an error.
                continue;
            }
            open = true;
        }
        if let Err(e) = tx.conn.execute_batch("SAVEPOINT unit") {
            tracing::error!(error = %db_error("savepoint")(e), "SQLite writer");
            continue;
        }
        match std::panic::catch_unwind(AssertUnwindSafe(|| job(tx))) {
            Ok((true, reply)) => match tx.conn.execute_batch("RELEASE unit") {
                Ok(()) => committed.push(reply),
                Err(e) => {
                    roll_back_unit(tx);
                    reply(Err(db_error("release savepoint")(e)));
                }
            },
            Ok((false, reply)) => {
                roll_back_unit(tx);
                // The unit's own error: nothing of it is committed.
                reply(Ok(()));
            }
            Err(_) => {
                tracing::error!("a SQLite write unit panicked; it was rolled back");
                roll_back_unit(tx);
            }
        }
    }
    if !open {
        return;
    }
    let commit = tx.conn.execute_batch("COMMIT");
    let failure = match commit {
        Ok(()) => None,
        Err(e) => {
            let error = db_error("commit")(e);
            if !tx.conn.is_autocommit() {
                let _ = tx.conn.execute_batch("ROLLBACK");
            }
            Some(error.to_string())
        }
    };
    for reply in committed {
        reply(match &failure {
            None => Ok(()),
            Some(message) => Err(StoreError::Backend(message.clone())),
        });
    }
}

fn roll_back_unit(tx: &mut WriteTx) {
    if tx.conn.is_autocommit() {
        return;
    }
    if let Err(e) = tx.conn.execute_batch("ROLLBACK TO unit; RELEASE unit") {
        tracing::error!(error = %db_error("rollback to savepoint")(e), "SQLite writer");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(path: &std::path::Path) -> WriteTx {
        let conn = Connection::open(path).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
             CREATE TABLE t (k TEXT PRIMARY KEY NOT NULL);",
        )
        .unwrap();
        WriteTx { conn }
    }

    fn insert(k: &'static str) -> Query {
        Query::new("INSERT INTO t (k) VALUES ($1)").bind(k)
    }

    fn unit(k: &'static str) -> impl for<'t> FnOnce(&'t mut WriteTx) -> UnitFuture<'t, u64> + Send {
        move |tx| Box::pin(async move { tx.execute(insert(k), "t").await })
    }

    fn keys(path: &std::path::Path) -> Vec<String> {
        // A fresh connection: it sees only what was committed.
        let conn = Connection::open(path).unwrap();
        let mut statement = conn.prepare("SELECT k FROM t ORDER BY k").unwrap();
        statement
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// One group of five units: two good, one failing after a write, one panicking
    /// after a write, one good again. The failures roll back alone; the others are
    /// answered `Ok` only once committed, and a fresh connection sees exactly them.
    #[test]
    fn group_commit_isolates_failing_units() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("group.db");
        let mut tx = open(&path);
        let (a, mut a_answer) =
            job(|tx: &mut WriteTx| Box::pin(async move { tx.execute(insert("a"), "t").await }));
        let (b, mut b_answer) =
            job(|tx: &mut WriteTx| Box::pin(async move { tx.execute(insert("b"), "t").await }));
        let (fails, mut fails_answer) = job(|tx: &mut WriteTx| {
            Box::pin(async move {
                tx.execute(insert("x"), "t").await?;
                // Duplicate of a unit committed in the same group.
                tx.execute(insert("a"), "t").await
            })
        });
        let (panics, mut panics_answer) = job(|tx: &mut WriteTx| {
            Box::pin(async move {
                tx.execute(insert("y"), "t").await?;
                if tx.execute(insert("z"), "t").await? == 1 {
                    panic!("a unit panics");
                }
                Ok(0)
            })
        });
        let (c, mut c_answer) =
            job(|tx: &mut WriteTx| Box::pin(async move { tx.execute(insert("c"), "t").await }));
        assert!(
            a_answer.try_recv().is_err(),
            "nothing answered before the group ran"
        );
        commit_group(&mut tx, vec![a, b, fails, panics, c]);
        assert_eq!(a_answer.try_recv().unwrap().unwrap(), 1);
        assert_eq!(b_answer.try_recv().unwrap().unwrap(), 1);
        assert_eq!(c_answer.try_recv().unwrap().unwrap(), 1);
        assert!(matches!(
            fails_answer.try_recv().unwrap(),
            Err(StoreError::Duplicate { what: "t" })
        ));
        assert!(
            panics_answer.try_recv().is_err(),
            "a panicked unit's answer channel is closed: its caller gets an error"
        );
        assert_eq!(keys(&path), ["a", "b", "c"]);
        assert!(tx.conn.is_autocommit(), "the group's transaction is closed");
    }

    /// An answer `Ok` means committed: visible to a fresh connection at once.
    #[tokio::test]
    async fn answered_units_are_committed_and_a_closed_writer_errs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("durable.db");
        let WriteTx { conn } = open(&path);
        let writer = Writer::start(conn).unwrap();
        assert_eq!(writer.submit("t", unit("a")).await.unwrap(), 1);
        assert_eq!(keys(&path), ["a"], "answered Ok: committed");
        // Concurrent units (grouped as they queue up), one of them a duplicate.
        let mut waiting = Vec::new();
        for k in ["b", "c", "d", "a", "e", "f", "g", "h"] {
            let writer = writer.clone();
            waiting.push((
                k,
                tokio::spawn(async move { writer.submit("t", unit(k)).await }),
            ));
        }
        for (k, task) in waiting {
            let result = task.await.unwrap();
            if k == "a" {
                assert!(matches!(result, Err(StoreError::Duplicate { what: "t" })));
            } else {
                assert_eq!(result.unwrap(), 1);
            }
        }
        assert_eq!(keys(&path), ["a", "b", "c", "d", "e", "f", "g", "h"]);

        let waits = writer
            .submit("t", |_: &mut WriteTx| {
                Box::pin(async move { std::future::pending::<Result<(), StoreError>>().await })
            })
            .await;
        assert!(matches!(waits, Err(StoreError::Backend(_))), "{waits:?}");

        writer.close();
        let after = writer
            .submit("t", |tx: &mut WriteTx| {
                Box::pin(async move { tx.execute(insert("late"), "t").await })
            })
            .await;
        assert!(matches!(after, Err(StoreError::Backend(_))), "{after:?}");
        assert!(!keys(&path).contains(&"late".to_owned()));
    }
}
