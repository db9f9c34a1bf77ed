//! Many rows written through SQLite's C API, for a bulk import's usage tables.
//!
//! Through sqlx every bound value of a multi-row insert was copied twice (into an owned
//! argument list on our thread, then by SQLite on the connection's thread) and freed twice,
//! and its parameter name looked up: a third of the connection thread's time in a 10-million
//! event import, with our thread busy encoding in between. Here the connection is locked out of
//! sqlx's worker (`lock_handle`, the API sqlx offers for direct calls) and each value is bound
//! where it lies (`SQLITE_STATIC`): the statement runs before the borrowed rows can go away.
//! It runs on the calling thread, so it is for imports, never a server's request handlers.

use chrono::{DateTime, NaiveDate, Utc};
use libsqlite3_sys as ffi;
use sqlx::sqlite::LockedSqliteHandle;
use sqlx::SqliteConnection;
use std::ffi::{c_char, c_int, CStr};
use std::marker::PhantomData;
use std::ptr::NonNull;

/// One bound value. Times, days and JSON are written as sqlx writes them (`time_value`,
/// `day_value`, serde_json).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Value<'a> {
    Text(&'a str),
    Real(f64),
    Int(i64),
    Null,
    Time(DateTime<Utc>),
    Day(NaiveDate),
    Json(&'a serde_json::Value),
}

impl<'a> From<Option<&'a str>> for Value<'a> {
    fn from(v: Option<&'a str>) -> Self {
        v.map_or(Value::Null, Value::Text)
    }
}

impl From<Option<f64>> for Value<'_> {
    fn from(v: Option<f64>) -> Self {
        v.map_or(Value::Null, Value::Real)
    }
}

/// A connection locked out of sqlx's worker thread until dropped.
pub(crate) struct Direct<'c> {
    handle: LockedSqliteHandle<'c>,
}

impl<'c> Direct<'c> {
    pub async fn lock(conn: &'c mut SqliteConnection) -> crate::Result<Self> {
        Ok(Direct { handle: conn.lock_handle().await? })
    }

    /// Runs `head` + `(?, …), (?, …)` + `tail` over `rows`, `per` rows a statement (the last
    /// one fewer), each row's `columns` values given by `values`; returns the rows changed.
    pub fn insert<'a, T>(
        &mut self,
        (head, columns, tail): (&str, usize, &str),
        per: usize,
        rows: &'a [T],
        mut values: impl FnMut(&'a T, &mut Vec<Value<'a>>),
    ) -> crate::Result<u64> {
        let db = self.handle.as_raw_handle();
        let (mut full, mut bound, mut changed) = (None, Vec::with_capacity(per * columns), 0);
        for chunk in rows.chunks(per.max(1)) {
            bound.clear();
            chunk.iter().for_each(|row| values(row, &mut bound));
            debug_assert_eq!(bound.len(), chunk.len() * columns, "{columns} values a row");
            changed += if chunk.len() == per {
                if full.is_none() {
                    full = Some(Statement::prepare(db, &values_sql(head, columns, per, tail))?);
                }
                full.as_mut().expect("prepared above").run(&bound)?
            } else {
                Statement::prepare(db, &values_sql(head, columns, chunk.len(), tail))?.run(&bound)?
            };
        }
        Ok(changed)
    }
}

/// `head (?, …, ?), … tail`: `rows` rows of `columns` parameters.
fn values_sql(head: &str, columns: usize, rows: usize, tail: &str) -> String {
    let row = format!("({})", vec!["?"; columns].join(", "));
    format!("{head} VALUES {} {tail}", vec![row; rows].join(", "))
}

/// A prepared statement of the locked connection `'h`, finalized when dropped.
struct Statement<'h> {
    raw: NonNull<ffi::sqlite3_stmt>,
    db: NonNull<ffi::sqlite3>,
    /// The texts of the times and days being bound, and where each ends.
    texts: String,
    ends: Vec<usize>,
    _locked: PhantomData<&'h mut ()>,
}

impl Statement<'_> {
    fn prepare(db: NonNull<ffi::sqlite3>, sql: &str) -> crate::Result<Self> {
        let mut raw = std::ptr::null_mut();
        let len = c_int::try_from(sql.len()).map_err(|_| error(db, ffi::SQLITE_TOOBIG))?;
        // SAFETY: `db` is the open connection the caller holds locked; `sql` outlives the call.
        let rc = unsafe {
            ffi::sqlite3_prepare_v3(db.as_ptr(), sql.as_ptr().cast::<c_char>(), len, ffi::SQLITE_PREPARE_PERSISTENT as u32, &mut raw, std::ptr::null_mut())
        };
        match NonNull::new(raw) {
            Some(raw) if rc == ffi::SQLITE_OK => Ok(Statement { raw, db, texts: String::new(), ends: vec![], _locked: PhantomData }),
            _ => Err(error(db, rc)),
        }
    }

    /// Binds `values` in order, runs the statement to its end and returns the rows changed.
    fn run(&mut self, values: &[Value<'_>]) -> crate::Result<u64> {
        // Times, days and JSON are written out first, so the text they are bound from stays put.
        self.texts.clear();
        self.ends.clear();
        for v in values {
            match v {
                Value::Time(at) => crate::sqlite::push_time(&mut self.texts, *at),
                Value::Day(day) => crate::sqlite::push_day(&mut self.texts, *day),
                // Most events have no properties: `{}` without the formatter.
                Value::Json(serde_json::Value::Object(o)) if o.is_empty() => self.texts.push_str("{}"),
                Value::Json(j) => self.texts.push_str(&j.to_string()),
                _ => continue,
            }
            self.ends.push(self.texts.len());
        }
        let (mut start, mut ends) = (0, self.ends.iter());
        for (i, v) in values.iter().enumerate() {
            let i = i as c_int + 1;
            let stmt = self.raw.as_ptr();
            // SAFETY: the statement is live; each text is bound SQLITE_STATIC from `values` or
            // `self.texts`, which outlive the step below and are rebound (or the statement
            // finalized) before they change.
            let rc = unsafe {
                match v {
                    Value::Text(t) => bind_text(stmt, i, t),
                    Value::Real(x) => ffi::sqlite3_bind_double(stmt, i, *x),
                    Value::Int(n) => ffi::sqlite3_bind_int64(stmt, i, *n),
                    Value::Null => ffi::sqlite3_bind_null(stmt, i),
                    Value::Time(_) | Value::Day(_) | Value::Json(_) => {
                        let end = *ends.next().expect("one end per value written out");
                        let text = &self.texts[start..end];
                        start = end;
                        bind_text(stmt, i, text)
                    }
                }
            };
            if rc != ffi::SQLITE_OK {
                return Err(error(self.db, rc));
            }
        }
        // SAFETY: as above; a failed step is reset so the connection's transaction goes on
        // as SQLite left it (the caller's error rolls it back).
        unsafe {
            let rc = ffi::sqlite3_step(self.raw.as_ptr());
            let err = (rc != ffi::SQLITE_DONE).then(|| error(self.db, rc));
            ffi::sqlite3_reset(self.raw.as_ptr());
            match err {
                Some(e) => Err(e),
                None => Ok(ffi::sqlite3_changes64(self.db.as_ptr()) as u64),
            }
        }
    }
}

impl Drop for Statement<'_> {
    fn drop(&mut self) {
        // SAFETY: prepared by this connection, finalized once.
        unsafe { ffi::sqlite3_finalize(self.raw.as_ptr()) };
    }
}

/// # Safety
/// `stmt` is a live statement, and `t` stays valid until it is rebound or finalized.
unsafe fn bind_text(stmt: *mut ffi::sqlite3_stmt, i: c_int, t: &str) -> c_int {
    match c_int::try_from(t.len()) {
        Ok(len) => ffi::sqlite3_bind_text(stmt, i, t.as_ptr().cast::<c_char>(), len, ffi::SQLITE_STATIC()),
        Err(_) => ffi::SQLITE_TOOBIG,
    }
}

/// SQLite's error for `rc`, with its message for the connection.
fn error(db: NonNull<ffi::sqlite3>, rc: c_int) -> crate::StoreError {
    // SAFETY: the connection is live; the message is copied before any other call.
    let message = unsafe {
        let m = ffi::sqlite3_errmsg(db.as_ptr());
        if m.is_null() { String::new() } else { CStr::from_ptr(m).to_string_lossy().into_owned() }
    };
    crate::StoreError::Sqlite { code: rc, message }
}

#[cfg(test)]
mod tests {
    use super::{Direct, Value};
    use chrono::{NaiveDate, TimeZone, Utc};
    use sqlx::{Connection, SqliteConnection};

    const INSERT: (&str, usize, &str) = ("INSERT INTO t (k, txt, real, int, at, day, json)", 7, "ON CONFLICT (k) DO NOTHING");

    async fn table() -> SqliteConnection {
        let mut conn = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        sqlx::query("CREATE TABLE t (k TEXT PRIMARY KEY, txt TEXT, real DOUBLE PRECISION, int BIGINT, at TEXT, day TEXT, json TEXT NOT NULL)")
            .execute(&mut conn)
            .await
            .unwrap();
        conn
    }

    type Row = (String, Option<String>, Option<f64>, Option<i64>, Option<String>, Option<String>, String);

    async fn rows(conn: &mut SqliteConnection) -> Vec<Row> {
        sqlx::query_as("SELECT k, txt, real, int, at, day, json FROM t ORDER BY k").fetch_all(conn).await.unwrap()
    }

    #[tokio::test]
    async fn values_are_stored_as_sqlx_binds_them_in_statements_of_any_size() {
        let at = Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 7).unwrap() + chrono::Duration::milliseconds(250);
        let day = NaiveDate::from_ymd_opt(2026, 3, 4).unwrap();
        let props = serde_json::json!({"plan": "pro", "seats": 3});
        let empty = serde_json::json!({});
        let keys: Vec<String> = (0..7).map(|i| format!("k{i}")).collect();
        let mut direct = table().await;
        let changed = {
            let mut db = Direct::lock(&mut direct).await.unwrap();
            // 3 rows a statement: two full ones and a last one of one row.
            db.insert(INSERT, 3, &keys, |k, out| {
                let odd = k.ends_with(['1', '3', '5']);
                out.extend([
                    Value::Text(k),
                    if odd { Value::Null } else { Value::Text("日本語 text") },
                    Value::from((!odd).then_some(1.5)),
                    Value::Int(-42),
                    Value::Time(at),
                    Value::Day(day),
                    Value::Json(if odd { &props } else { &empty }),
                ])
            })
            .unwrap()
        };
        assert_eq!(changed, 7);
        // The same rows bound by sqlx, one at a time.
        let mut through_sqlx = table().await;
        for k in &keys {
            let odd = k.ends_with(['1', '3', '5']);
            sqlx::query("INSERT INTO t (k, txt, real, int, at, day, json) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(k)
                .bind((!odd).then_some("日本語 text"))
                .bind((!odd).then_some(1.5))
                .bind(-42i64)
                .bind(at)
                .bind(day)
                .bind(if odd { props.to_string() } else { empty.to_string() })
                .execute(&mut through_sqlx)
                .await
                .unwrap();
        }
        let stored = rows(&mut direct).await;
        assert_eq!(stored, rows(&mut through_sqlx).await);
        assert_eq!(stored[0], ("k0".into(), Some("日本語 text".into()), Some(1.5), Some(-42), Some("2026-03-04T05:06:07.250+00:00".into()), Some("2026-03-04".into()), "{}".into()));
        assert_eq!(stored[1].6, r#"{"plan":"pro","seats":3}"#);
    }

    #[tokio::test]
    async fn rows_changed_leave_out_the_ignored_and_errors_name_the_problem() {
        let mut conn = table().await;
        let mut db = Direct::lock(&mut conn).await.unwrap();
        let row = |k: &'static str, json: Option<&'static str>| [Value::Text(k), Value::Null, Value::Null, Value::Null, Value::Null, Value::Null, json.into()];
        let first = db.insert(INSERT, 2, &["a", "b"], |k, out| out.extend(row(k, Some("{}")))).unwrap();
        let again = db.insert(INSERT, 2, &["b", "c", "a"], |k, out| out.extend(row(k, Some("{}")))).unwrap();
        assert_eq!((first, again), (2, 1), "only c is new");
        let err = db.insert(INSERT, 2, &["d"], |k, out| out.extend(row(k, None))).unwrap_err().to_string();
        assert!(err.contains("NOT NULL constraint failed: t.json"), "{err}");
        // The connection goes on after a refused statement.
        assert_eq!(db.insert(INSERT, 2, &["e"], |k, out| out.extend(row(k, Some("{}")))).unwrap(), 1);
        drop(db);
        let keys: Vec<String> = rows(&mut conn).await.into_iter().map(|r| r.0).collect();
        assert_eq!(keys, ["a", "b", "c", "e"]);
    }
}
