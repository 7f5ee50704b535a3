-- Invitations. No usable link is stored: the link's token is an HMAC of the id and
-- link_version under the server's secret key. Raising link_version kills every earlier link.
-- 'expired' is not stored: a pending invitation is expired once expires_at has passed.

CREATE TABLE invitations (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    invited_by TEXT REFERENCES users (id),
    state TEXT NOT NULL CHECK (state IN ('pending', 'accepted', 'cancelled')),
    link_version BIGINT NOT NULL DEFAULT 1,
    personal_message TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    last_sent_at BIGINT NOT NULL,
    send_count BIGINT NOT NULL DEFAULT 0,
    accepted_at BIGINT,
    cancelled_at BIGINT,
    cancelled_by TEXT REFERENCES users (id)
);
-- At most one pending invitation per user.
CREATE UNIQUE INDEX invitations_one_pending ON invitations (user_id) WHERE state = 'pending';
CREATE INDEX invitations_account_state ON invitations (account_id, state, expires_at);

CREATE TABLE invitation_roles (
    invitation_id TEXT NOT NULL REFERENCES invitations (id),
    scope_id TEXT NOT NULL REFERENCES scopes (id),
    role TEXT NOT NULL,
    PRIMARY KEY (invitation_id, scope_id, role)
);
