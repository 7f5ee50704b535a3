//! Both engines have the same schema: the two sets of migrations make the same tables, with
//! the same columns (name, nullability, a type family) and the same indexes (name, columns).
//! The differences there are, each listed once here, are the only ones allowed.

use crate::common;

use app::services::db::Db;
use common::*;
use std::collections::BTreeSet;

/// What each engine has that the other has not, by design: SQLite's full-text table for the
/// Users search (its shadow tables and the index that links it to users), PostgreSQL's
/// trigram index for the same search. The session store's table belongs to its library,
/// which makes it its own way on each engine.
const ONLY_SQLITE: [&str; 9] = [
    "column users.search_doc integer null",
    "index users.users_by_search_doc_filters (search_doc, account_id, status, pending_expires_at, awaiting_since)",
    "table users_search",
    "table users_search_config",
    "table users_search_content",
    "table users_search_data",
    "table users_search_docsize",
    "table users_search_idx",
    "index users.users_by_search_doc (search_doc)",
];
const ONLY_POSTGRES: [&str; 1] = ["index users.users_search (?)"];
const NOT_OURS: [&str; 1] = ["tower_sessions"];

/// The family a column's declared type belongs to.
fn family(declared: &str) -> &'static str {
    let t = declared.to_lowercase();
    if t.contains("int") {
        "integer"
    } else if t.contains("char") || t.contains("text") {
        "text"
    } else if t.contains("blob") || t.contains("bytea") {
        "bytes"
    } else if t.contains("bool") {
        "boolean"
    } else {
        "other"
    }
}

async fn sqlite_schema(db: &Db) -> BTreeSet<String> {
    let mut schema = BTreeSet::new();
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").fetch_all(&db.pool).await.unwrap();
    for table in tables {
        if NOT_OURS.contains(&table.as_str()) {
            continue;
        }
        schema.insert(format!("table {table}"));
        let columns: Vec<(String, String, i64, i64)> =
            sqlx::query_as("SELECT name, type, \"notnull\", pk FROM pragma_table_info($1)").bind(&table).fetch_all(&db.pool).await.unwrap();
        // The full-text table's columns are its own kind of thing. A primary key's column is
        // counted as NOT NULL, as PostgreSQL makes it (SQLite would take a NULL in a TEXT
        // primary key; every id Beckon writes is a value).
        if !table.starts_with("users_search") {
            for (name, declared, not_null, key) in columns {
                schema.insert(format!("column {table}.{name} {} {}", family(&declared), if not_null == 1 || key > 0 { "not null" } else { "null" }));
            }
        }
        let indexes: Vec<(String, String)> = sqlx::query_as("SELECT name, origin FROM pragma_index_list($1)").bind(&table).fetch_all(&db.pool).await.unwrap();
        for (index, origin) in indexes {
            // Indexes SQLite makes for a primary key or a UNIQUE constraint are constraints
            // (compared as such through the columns' nullability and the unique indexes).
            if origin != "c" {
                continue;
            }
            let columns: Vec<Option<String>> =
                sqlx::query_scalar("SELECT name FROM pragma_index_info($1) ORDER BY seqno").bind(&index).fetch_all(&db.pool).await.unwrap();
            let columns = columns.into_iter().map(|c| c.unwrap_or_else(|| "?".into())).collect::<Vec<_>>().join(", ");
            schema.insert(format!("index {table}.{index} ({columns})"));
        }
    }
    schema
}

async fn postgres_schema(db: &Db) -> BTreeSet<String> {
    let mut schema = BTreeSet::new();
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    for table in tables {
        schema.insert(format!("table {table}"));
        let columns: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT column_name::text, data_type::text, is_nullable::text FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1",
        )
        .bind(&table)
        .fetch_all(&db.pool)
        .await
        .unwrap();
        for (name, declared, nullable) in columns {
            schema.insert(format!("column {table}.{name} {} {}", family(&declared), if nullable == "NO" { "not null" } else { "null" }));
        }
        // The columns of each index that is not a constraint's, its INCLUDE ones after its keys,
        // as SQLite lists a covering index's (expressions, which SQLite lists without a name,
        // as `?`).
        let indexes: Vec<(String, String, i32)> = sqlx::query_as(
            "SELECT i.relname::text, array_to_string(ARRAY(SELECT COALESCE(a.attname::text, '?') FROM generate_subscripts(x.indkey, 1) k \
                LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[k] \
                ORDER BY k), ', '), x.indnkeyatts::int4 \
             FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid \
             WHERE t.relname = $1 AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)",
        )
        .bind(&table)
        .fetch_all(&db.pool)
        .await
        .unwrap();
        for (index, columns, keys) in indexes {
            // A covering index of the Users page names the row's id among its INCLUDE columns
            // on PostgreSQL; SQLite's index entries carry the row's rowid without naming it
            // (migration 0008). An id among an index's keys is named on both.
            let columns: Vec<&str> = columns.split(", ").enumerate().filter(|(at, c)| *at < keys as usize || *c != "id").map(|(_, c)| c).collect();
            schema.insert(format!("index {table}.{index} ({})", columns.join(", ")));
        }
    }
    schema
}

#[tokio::test]
#[ignore = "compares SQLite with PostgreSQL: make test runs it in the PostgreSQL pass, with --include-ignored"]
async fn both_engines_have_the_same_tables_columns_and_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Db::connect_and_migrate(&Db::sqlite_url(&dir.path().join("beckon.db")), 0).await.unwrap();
    let url = test_database_url(dir.path()).await.expect("BECKON_TEST_POSTGRES: this test compares with PostgreSQL (scripts/with-postgres.sh)");
    let postgres = Db::connect_and_migrate(&url, 0).await.unwrap();
    let (mut lite, pg) = (sqlite_schema(&sqlite).await, postgres_schema(&postgres).await);
    for only in ONLY_SQLITE {
        assert!(lite.remove(only), "the listed difference is there: {only}");
    }
    let mut pg = pg;
    for only in ONLY_POSTGRES {
        assert!(pg.remove(only), "the listed difference is there: {only}");
    }
    assert!(lite.len() > 100, "the schema was read: {lite:#?}");
    let missing_in_postgres: Vec<_> = lite.difference(&pg).collect();
    let missing_in_sqlite: Vec<_> = pg.difference(&lite).collect();
    assert!(missing_in_postgres.is_empty() && missing_in_sqlite.is_empty(), "SQLite only: {missing_in_postgres:#?}\nPostgreSQL only: {missing_in_sqlite:#?}");
}
