-- Names as search and sorting compare them: folded to lower case by Beckon itself (every
-- letter, not only ASCII), so both engines find and order "Émile" alike.
ALTER TABLE users ADD COLUMN name_folded TEXT NOT NULL DEFAULT '';
UPDATE users SET name_folded = lower(name);
