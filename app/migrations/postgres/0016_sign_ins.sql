-- The PostgreSQL twin of ../sqlite/0016. Each sign-in, so a person's page can list where they are signed in (device, last seen).
-- The session itself stays in the session store; this row describes it. A sign-in ended
-- by "Sign out everywhere", a password change or deactivation is told apart by its
-- auth_version, which no longer matches the person's.
CREATE TABLE sign_ins (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    auth_version BIGINT NOT NULL,
    device TEXT NOT NULL,
    signed_in_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    ended_at BIGINT
);
CREATE INDEX sign_ins_by_user ON sign_ins (user_id, last_seen_at);
