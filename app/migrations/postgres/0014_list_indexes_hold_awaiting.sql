-- The PostgreSQL twin of ../sqlite/0014: Invited and Awaiting confirmation are told apart
-- by users.awaiting_since (0012), so the list's indexes hold it and a walk or a count
-- filtered on Invited stays an index-only scan.
DROP INDEX users_by_name;
CREATE INDEX users_by_name ON users (account_id, sort_name, email) INCLUDE (status, pending_expires_at, name_folded, id, awaiting_since);
DROP INDEX users_by_status;
CREATE INDEX users_by_status ON users (account_id, status, sort_name, email, pending_expires_at) INCLUDE (name_folded, id, awaiting_since);
DROP INDEX users_by_invited;
CREATE INDEX users_by_invited ON users (account_id, (COALESCE(invited_at, 0)), email) INCLUDE (status, pending_expires_at, name_folded, id, invited_at, awaiting_since);
DROP INDEX users_by_email;
CREATE INDEX users_by_email ON users (account_id, email) INCLUDE (status, pending_expires_at, name_folded, id, awaiting_since);
DROP INDEX users_by_expiry;
CREATE INDEX users_by_expiry ON users (account_id, status, pending_expires_at) INCLUDE (awaiting_since);
