-- A search counts its matches through the FTS5 table joined to users; with a status
-- filter each match's status and expiry are read from here instead of from the user's
-- row (a common term with the Invited filter checks some 13,000 matches).
CREATE INDEX users_by_search_doc_filters ON users (search_doc, account_id, status, pending_expires_at);
