//! Moving from SQLite to PostgreSQL (`kizuna migrate --to postgres://...`): every table of the
//! SQLite database is copied into an empty PostgreSQL database of the same schema version, in
//! one transaction, with PostgreSQL's `COPY` (it reads SQLite's text dates, times and JSON as
//! its own types). The caller then compares both sides before it reports success.

use crate::engine::Engine;
use crate::{redact_url, StoreError};
use futures::TryStreamExt;
use sqlx::{Column, Row, TypeInfo, ValueRef};
use std::collections::BTreeMap;

/// Rows per table, as copied (the same on both sides when the copy is whole).
pub type TableCounts = BTreeMap<String, u64>;

/// The one table [`crate::open`] writes to by itself.
const OPEN_WRITES: &str = "settings";

/// Rows sent to PostgreSQL per `COPY` chunk.
const CHUNK_ROWS: usize = 10_000;

/// The tables Kizuna's migrations made (not SQLite's own, not sqlx's bookkeeping, not the
/// SQLite-only search index: its FTS5 table, FTS5's shadow tables and their row numbers, which
/// PostgreSQL replaces with a pg_trgm index on `accounts.search_key`, copied with the accounts).
async fn sqlite_tables(pool: &sqlx::SqlitePool) -> crate::Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' \
         AND name NOT LIKE 'account\\_search%' ESCAPE '\\' ORDER BY name",
    )
    .fetch_all(pool)
    .await?)
}

async fn sqlite_counts(pool: &sqlx::SqlitePool, tables: &[String]) -> crate::Result<TableCounts> {
    let mut out = TableCounts::new();
    for t in tables {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {t}")).fetch_one(pool).await?;
        out.insert(t.clone(), n as u64);
    }
    Ok(out)
}

async fn pg_counts(pool: &sqlx::PgPool, tables: &[String]) -> crate::Result<TableCounts> {
    let mut out = TableCounts::new();
    for t in tables {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {t}")).fetch_one(pool).await?;
        out.insert(t.clone(), n as u64);
    }
    Ok(out)
}

/// Copies every table of the SQLite database at `from` into the PostgreSQL database at `to`,
/// which must hold no rows (it is migrated first, to the same schema as the SQLite one).
/// Returns the rows per table on each side, counted after the copy.
pub async fn sqlite_to_postgres(from: &str, to: &str) -> crate::Result<(TableCounts, TableCounts)> {
    let source = crate::SqliteStore::open(from).await?;
    let target = crate::PgStore::open(to).await?;
    let tables = sqlite_tables(source.pool()).await?;
    let already = pg_counts(target.pool(), &tables).await?;
    // Opening writes the store's own settings (the zone usage days are filed in); the copied
    // ones replace them.
    if let Some((t, n)) = already.iter().find(|(t, n)| **n > 0 && t.as_str() != OPEN_WRITES) {
        return Err(StoreError::Backup(format!("{} is not empty (table {t} has {n} rows): migrate copies only into an empty database", redact_url(to))));
    }
    let mut tx = target.pool().begin().await?;
    sqlx::query(&format!("DELETE FROM {OPEN_WRITES}")).execute(&mut *tx).await?;
    for t in &tables {
        copy_table(source.pool(), &mut tx, t).await?;
    }
    tx.commit().await?;
    Ok((sqlite_counts(source.pool(), &tables).await?, pg_counts(target.pool(), &tables).await?))
}

async fn copy_table(source: &sqlx::SqlitePool, tx: &mut sqlx::Transaction<'_, sqlx::Postgres>, table: &str) -> crate::Result<()> {
    let pg: Vec<String> = sqlx::query_scalar(
        "SELECT column_name::text FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(&mut **tx)
    .await?;
    if pg.is_empty() {
        return Err(StoreError::Backup(format!("table {table} is in SQLite but not in PostgreSQL: are both on this version's schema?")));
    }
    let list = pg.join(", ");
    let select = format!("SELECT {list} FROM {table}");
    let mut rows = sqlx::query(&select).fetch(source);
    let mut copy = (&mut **tx).copy_in_raw(&format!("COPY {table} ({list}) FROM STDIN")).await?;
    let (mut text, mut in_chunk) = (String::new(), 0);
    while let Some(row) = rows.try_next().await? {
        for i in 0..row.columns().len() {
            if i > 0 {
                text.push('\t');
            }
            push_value(&mut text, &row, i)?;
        }
        text.push('\n');
        in_chunk += 1;
        if in_chunk == CHUNK_ROWS {
            copy.send(std::mem::take(&mut text).into_bytes()).await?;
            in_chunk = 0;
        }
    }
    if !text.is_empty() {
        copy.send(text.into_bytes()).await?;
    }
    copy.finish().await?;
    // Identity columns (the audit log's id) go on after the copied values.
    let serials: Vec<String> = sqlx::query_scalar(
        "SELECT column_name::text FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 AND is_identity = 'YES'",
    )
    .bind(table)
    .fetch_all(&mut **tx)
    .await?;
    for col in serials {
        let sql = format!("SELECT setval(pg_get_serial_sequence('{table}', '{col}'), (SELECT MAX({col}) FROM {table}))");
        sqlx::query(&sql).execute(&mut **tx).await?;
    }
    Ok(())
}

/// One SQLite value in COPY's text format: `\N` for NULL, numbers as they are (floats in
/// Rust's shortest exact form), text escaped.
fn push_value(out: &mut String, row: &sqlx::sqlite::SqliteRow, i: usize) -> crate::Result<()> {
    let raw = row.try_get_raw(i)?;
    if raw.is_null() {
        out.push_str("\\N");
        return Ok(());
    }
    match raw.type_info().name() {
        "INTEGER" | "BOOLEAN" => out.push_str(&row.try_get::<i64, _>(i)?.to_string()),
        "REAL" => out.push_str(&row.try_get::<f64, _>(i)?.to_string()),
        "BLOB" => return Err(StoreError::Backup(format!("column {} holds binary data, which Kizuna never writes", row.column(i).name()))),
        _ => escape_into(out, &row.try_get::<String, _>(i)?),
    }
    Ok(())
}

fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn copy_text_is_escaped() {
        let mut s = String::new();
        super::escape_into(&mut s, "a\tb\\c\nd\re");
        assert_eq!(s, "a\\tb\\\\c\\nd\\re");
    }
}
