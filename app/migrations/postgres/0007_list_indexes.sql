-- What the Users page filters, sorts and searches on, kept on the user's own row (see the
-- SQLite twin): the name to sort by and the open invitation's dates.
ALTER TABLE users ADD COLUMN sort_name TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN invited_at BIGINT;
ALTER TABLE users ADD COLUMN pending_expires_at BIGINT;
UPDATE users SET sort_name = CASE WHEN name_folded = '' THEN email ELSE name_folded END;
UPDATE users SET
    invited_at = (SELECT i.created_at FROM invitations i WHERE i.user_id = users.id AND i.state = 'pending'),
    pending_expires_at = (SELECT i.expires_at FROM invitations i WHERE i.user_id = users.id AND i.state = 'pending');
CREATE INDEX users_by_name ON users (account_id, sort_name, email);
-- With the expiry, so "Invited" and "Expired" are told apart from the index alone.
CREATE INDEX users_by_status ON users (account_id, status, sort_name, email, pending_expires_at);
-- The expression the Invited sort orders by (no invitation sorts as 0 on both engines).
CREATE INDEX users_by_invited ON users (account_id, (COALESCE(invited_at, 0)), email);
CREATE INDEX users_by_email ON users (account_id, email);

-- Substring search without a scan: a trigram index over "name address" (pg_trgm ships with
-- PostgreSQL and is trusted: the database's owner may create it).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX users_search ON users USING gin ((name_folded || ' ' || email) gin_trgm_ops);

-- Each invitation's latest email, for its row on the Users page.
CREATE INDEX outbox_by_invitation ON outbox (invitation_id, created_at);

-- Spent rate-limit counters are deleted by the start of their window.
CREATE INDEX rate_limits_by_window ON rate_limits (window_start);

-- Which worker holds a message's lease ("host/pid/start"), so a worker restarted after a
-- crash takes back its earlier run's messages at once instead of waiting out the lease.
ALTER TABLE outbox ADD COLUMN leased_by TEXT;
