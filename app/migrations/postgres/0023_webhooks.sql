-- The PostgreSQL twin of ../sqlite/0023.
-- Webhooks. An endpoint an administrator registers hears the events it chose. An event is
-- written in the same transaction as the change and its audit line, with one delivery per
-- endpoint that hears it; the runner sends deliveries under a lease, as it sends mail, and
-- retries them with backoff. The event's id is the `webhook-id` of every attempt, so a
-- receiver can tell a retry from a new event.
CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    url TEXT NOT NULL,
    description TEXT NOT NULL,
    -- 'invitation.created,invitation.accepted', …
    events TEXT NOT NULL,
    -- The signing key, whsec_…: kept as it is, since every delivery is signed with it.
    secret TEXT NOT NULL,
    -- After a rotation, the previous key signs too until previous_secret_until.
    previous_secret TEXT,
    previous_secret_until BIGINT,
    enabled BIGINT NOT NULL,
    disabled_reason TEXT,
    -- Every attempt since then failed; cleared by a success.
    failing_since BIGINT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_account ON webhook_endpoints (account_id, created_at);

CREATE TABLE webhook_events (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    event_type TEXT NOT NULL,
    -- The body every attempt sends, as it was when the event happened.
    payload TEXT NOT NULL,
    -- The person it is about, so deleting them erases it.
    subject_user_id TEXT,
    -- An event that must happen once (an invitation's expiry) has a key no second one can take.
    once_key TEXT UNIQUE,
    created_at BIGINT NOT NULL
);
CREATE INDEX webhook_events_subject ON webhook_events (subject_user_id);

CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL REFERENCES webhook_events (id),
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id),
    state TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'delivered', 'failed')),
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    leased_by TEXT,
    lease_until BIGINT,
    last_status BIGINT,
    last_error TEXT,
    response_excerpt TEXT,
    last_attempt_at BIGINT,
    created_at BIGINT NOT NULL
);
-- What the runner claims: due, or left by a runner whose lease ran out.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);

-- How far the expiry sweep has looked, per account: invitations that expired since are
-- announced once each, and none from before webhooks existed.
CREATE TABLE webhook_sweeps (
    account_id TEXT PRIMARY KEY REFERENCES accounts (id),
    expired_until BIGINT NOT NULL
);
