-- The PostgreSQL twin of ../sqlite/0008: the list's indexes hold what a walk through them
-- tests (status, expiry, folded name, address) and the user's id, so a walk is an
-- index-only scan (the planner wants the column under an expression, too).
DROP INDEX users_by_name;
CREATE INDEX users_by_name ON users (account_id, sort_name, email) INCLUDE (status, pending_expires_at, name_folded, id);
DROP INDEX users_by_status;
CREATE INDEX users_by_status ON users (account_id, status, sort_name, email, pending_expires_at) INCLUDE (name_folded, id);
DROP INDEX users_by_invited;
CREATE INDEX users_by_invited ON users (account_id, (COALESCE(invited_at, 0)), email) INCLUDE (status, pending_expires_at, name_folded, id, invited_at);
DROP INDEX users_by_email;
CREATE INDEX users_by_email ON users (account_id, email) INCLUDE (status, pending_expires_at, name_folded, id);

-- Counting the Invited or the Expired reads the range of their expiry, not every invited user.
CREATE INDEX users_by_expiry ON users (account_id, status, pending_expires_at);
