-- Places (organisational units, waiting areas, meeting rooms) live in `scopes` beside the
-- account's own scope; an archived place confers nothing and takes no new invitations.
ALTER TABLE scopes ADD COLUMN archived_at BIGINT;
CREATE INDEX scopes_parent ON scopes (parent_id);
-- Two live places of one kind in the same parent do not share a name.
CREATE UNIQUE INDEX scopes_live_name ON scopes (account_id, COALESCE(parent_id, ''), kind, lower(name)) WHERE archived_at IS NULL;

-- The account's own role names ("Clinician"): membership only, no administration. Held and
-- offered as role 'custom:{id}' in memberships and invitation_roles.
CREATE TABLE custom_roles (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX custom_roles_name ON custom_roles (account_id, lower(name));

-- A Curator with the People permission manages invitations account-wide.
ALTER TABLE users ADD COLUMN people_permission BIGINT NOT NULL DEFAULT 0;

CREATE INDEX invitation_roles_scope ON invitation_roles (scope_id);
