-- The PostgreSQL twin of ../sqlite/0022.
-- A token acts as the person who made it, with at most the scopes chosen. Only a hash of its
-- secret is kept (the secret is long and random, so a fast hash is enough); the last four
-- characters are shown in the list so a person can tell their tokens apart. Like a job's
-- starter, the person who made or revoked a token is an id that may name nobody once they
-- are deleted (their tokens are revoked first).
CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    last_four TEXT NOT NULL,
    -- 'read', 'read,invitations', 'read,people', 'read,invitations,people'.
    scopes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    last_used_at BIGINT,
    revoked_at BIGINT,
    revoked_by TEXT
);
CREATE INDEX api_tokens_account ON api_tokens (account_id, created_at);

-- A POST's Idempotency-Key, per token: the first request's fingerprint and, once answered,
-- its answer, replayed to a retry for 24 hours. A row without an answer is a request still
-- running; a retry meanwhile is told so, never run twice.
CREATE TABLE api_idempotency_keys (
    token_id TEXT NOT NULL REFERENCES api_tokens (id),
    idempotency_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER,
    body TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (token_id, idempotency_key)
);
CREATE INDEX api_idempotency_keys_created ON api_idempotency_keys (created_at);

-- The API lists invitations newest first, a page after a cursor (created_at, id).
CREATE INDEX invitations_account_created ON invitations (account_id, created_at, id);

-- A bulk action started through a token runs with no more than the token carries, and stops
-- when the token is revoked or expires.
ALTER TABLE jobs ADD COLUMN api_token_id TEXT REFERENCES api_tokens (id);
