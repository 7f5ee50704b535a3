-- The twin of ../sqlite/0009, which indexes SQLite's FTS5 document numbers: PostgreSQL's
-- trigram index has none, and its matches are read from the table's pages already.
SELECT 1;
