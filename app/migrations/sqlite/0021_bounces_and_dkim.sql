-- Bounces: a delivery status notification that came back to a message's own return path
-- (VERP). The outbox row keeps the worst one received ('hard' outranks 'soft'), with the
-- remote server's words; a hard bounce also holds its address in the account until an
-- administrator corrects it or says it works now, so nobody resends blindly to it. A release
-- is kept (released_at): a late bounce of a message sent before it does not hold again.
ALTER TABLE outbox ADD COLUMN bounce_kind TEXT CHECK (bounce_kind IN ('hard', 'soft'));
ALTER TABLE outbox ADD COLUMN bounce_reply TEXT;
ALTER TABLE outbox ADD COLUMN bounced_at BIGINT;

CREATE TABLE held_addresses (
    account_id TEXT NOT NULL REFERENCES accounts (id),
    email TEXT NOT NULL,
    message_id TEXT NOT NULL,
    reply TEXT NOT NULL,
    held_at BIGINT NOT NULL,
    released_at BIGINT,
    PRIMARY KEY (account_id, email)
);

-- The deployment's DKIM keys: every process signs with the newest key not retired, so one
-- database means one key. A rotated key stays listed (its DNS record may still be needed
-- by mail in flight) until an administrator removes it.
CREATE TABLE dkim_keys (
    selector TEXT PRIMARY KEY,
    private_key_pem TEXT NOT NULL,
    public_key_base64 TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);
