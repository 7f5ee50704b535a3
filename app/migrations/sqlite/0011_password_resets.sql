-- "Forgot your password?": a single-use link by email. The row holds no usable token (the
-- link's is derived from the secret key, the row's id and the person's auth_version when it
-- was issued): a changed password, a use or its expiry each make it dead.
CREATE TABLE password_resets (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    auth_version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX password_resets_user ON password_resets (user_id);

-- The outbox names the reset whose link a message carries, as it names an invitation: the
-- worker makes the link at send time, so the outbox holds none.
ALTER TABLE outbox ADD COLUMN password_reset_id TEXT;
