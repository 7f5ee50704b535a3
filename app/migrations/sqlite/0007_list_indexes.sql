-- What the Users page filters, sorts and searches on, kept on the user's own row so a page
-- of a large account is read from an index, not computed over every user: the name to sort
-- by (the folded name, or the address when there is none), and the open invitation's dates
-- (the store keeps them in step with `invitations`; Expired is still derived from them).
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

-- Substring search without a scan: the trigrams of "name address", kept by triggers. Each
-- user's document number is stored on the user (`search_doc`): the implicit rowid of a table
-- keyed by text is not stable (VACUUM may renumber it), a stored column is.
ALTER TABLE users ADD COLUMN search_doc INTEGER;
UPDATE users SET search_doc = rowid;
CREATE UNIQUE INDEX users_by_search_doc ON users (search_doc);
CREATE VIRTUAL TABLE users_search USING fts5 (words, tokenize = 'trigram');
INSERT INTO users_search (rowid, words) SELECT search_doc, name_folded || ' ' || email FROM users;
CREATE TRIGGER users_search_insert AFTER INSERT ON users BEGIN
    UPDATE users SET search_doc = (SELECT COALESCE(MAX(search_doc), 0) + 1 FROM users) WHERE id = new.id;
    INSERT INTO users_search (rowid, words) SELECT search_doc, new.name_folded || ' ' || new.email FROM users WHERE id = new.id;
END;
CREATE TRIGGER users_search_update AFTER UPDATE OF name_folded, email ON users BEGIN
    UPDATE users_search SET words = new.name_folded || ' ' || new.email WHERE rowid = new.search_doc;
END;
CREATE TRIGGER users_search_delete AFTER DELETE ON users BEGIN
    DELETE FROM users_search WHERE rowid = old.search_doc;
END;

-- Each invitation's latest email, for its row on the Users page.
CREATE INDEX outbox_by_invitation ON outbox (invitation_id, created_at);

-- Spent rate-limit counters are deleted by the start of their window.
CREATE INDEX rate_limits_by_window ON rate_limits (window_start);

-- Which worker holds a message's lease ("host/pid/start"), so a worker restarted after a
-- crash takes back its earlier run's messages at once instead of waiting out the lease.
ALTER TABLE outbox ADD COLUMN leased_by TEXT;
