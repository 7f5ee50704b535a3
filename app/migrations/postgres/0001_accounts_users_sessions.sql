-- The PostgreSQL twin of ../sqlite/0001 (each file here mirrors the one of the same name
-- there): ids are TEXT (UUIDs), times are BIGINT milliseconds since the epoch, flags and
-- counts are BIGINT, so one set of queries runs on both engines and decodes alike.

CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    invitation_expiry_days BIGINT NOT NULL DEFAULT 7,
    resend_rotates_link BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    email TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ('profile_only', 'invited', 'active', 'deactivated')),
    password_hash TEXT,
    must_change_password BIGINT NOT NULL DEFAULT 0,
    -- Raised when the password changes: every session signed in before then ends.
    auth_version BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (account_id, email)
);
CREATE INDEX users_email ON users (email);

-- Places roles are held in. Every account has one scope of kind 'account' for
-- account-wide roles; organisational units, waiting areas and meeting rooms come later.
CREATE TABLE scopes (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    parent_id TEXT REFERENCES scopes (id),
    created_at BIGINT NOT NULL
);
CREATE INDEX scopes_account ON scopes (account_id, kind);

CREATE TABLE memberships (
    user_id TEXT NOT NULL REFERENCES users (id),
    scope_id TEXT NOT NULL REFERENCES scopes (id),
    role TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, scope_id, role)
);
CREATE INDEX memberships_scope ON memberships (scope_id);

CREATE TABLE audit_events (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    actor_user_id TEXT,
    action TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '{}',
    at BIGINT NOT NULL
);
CREATE INDEX audit_events_account_at ON audit_events (account_id, at);

-- Fixed-window counters shared by every process on the database, so running more
-- processes does not multiply a limit.
CREATE TABLE rate_limits (
    key TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    hits BIGINT NOT NULL
);

-- One row once the first owner exists: inserting it first makes two simultaneous
-- set-ups collide on the key instead of both creating an account.
CREATE TABLE installation (
    singleton BIGINT PRIMARY KEY CHECK (singleton = 1),
    account_id TEXT NOT NULL REFERENCES accounts (id),
    created_at BIGINT NOT NULL
);
