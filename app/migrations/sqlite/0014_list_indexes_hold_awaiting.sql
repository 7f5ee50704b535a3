-- Invited and Awaiting confirmation are told apart by users.awaiting_since (0012): the
-- list's indexes hold it too, so filtering on Invited walks and counts without reading the
-- table again (as 0008 and 0009 made them).
DROP INDEX users_by_name;
CREATE INDEX users_by_name ON users (account_id, sort_name, email, status, pending_expires_at, name_folded, awaiting_since);
DROP INDEX users_by_status;
CREATE INDEX users_by_status ON users (account_id, status, sort_name, email, pending_expires_at, name_folded, awaiting_since);
DROP INDEX users_by_invited;
CREATE INDEX users_by_invited ON users (account_id, (COALESCE(invited_at, 0)), email, status, pending_expires_at, name_folded, invited_at, awaiting_since);
DROP INDEX users_by_email;
CREATE INDEX users_by_email ON users (account_id, email, status, pending_expires_at, name_folded, awaiting_since);
DROP INDEX users_by_expiry;
CREATE INDEX users_by_expiry ON users (account_id, status, pending_expires_at, awaiting_since);
DROP INDEX users_by_search_doc_filters;
CREATE INDEX users_by_search_doc_filters ON users (search_doc, account_id, status, pending_expires_at, awaiting_since);
