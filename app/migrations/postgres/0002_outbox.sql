-- Every outgoing message, written in the same transaction as the change that causes it
-- and sent by the delivery worker. Rows are kept: they are the delivery log.
CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    kind TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    text_body TEXT NOT NULL,
    html_body TEXT NOT NULL,
    invitation_id TEXT,
    state TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'deferred', 'failed')),
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    -- A worker holds a 'sending' row until then; past it, another worker may take it over.
    lease_until BIGINT,
    last_reply TEXT,
    sent_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_account_created ON outbox (account_id, created_at);

ALTER TABLE accounts ADD COLUMN sender_name TEXT;
ALTER TABLE accounts ADD COLUMN sender_address TEXT;
ALTER TABLE accounts ADD COLUMN reply_to TEXT;
