-- Imports of people from a CSV file. The upload writes the import and one row per line of
-- the file with its verdict (the preview); nothing else is written until the admin confirms.
-- Then a job (kind 'import', one item per importable row) stages the rows here in batches
-- (ids, the rendered email, the grants) and its last batch makes them all live in one short
-- transaction of set-based statements: every valid row or none.
CREATE TABLE imports (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    -- No reference to users: erasing the person who uploaded it keeps the import (and its
    -- people), as the audit trail keeps "a deleted person".
    created_by TEXT NOT NULL,
    file_name TEXT NOT NULL,
    delimiter TEXT NOT NULL,
    total BIGINT NOT NULL,
    state TEXT NOT NULL,
    mode TEXT,
    job_id TEXT,
    failed_because TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX imports_by_account ON imports (account_id, created_at);

CREATE TABLE import_rows (
    import_id TEXT NOT NULL REFERENCES imports (id),
    -- The file's line of the row (the header is line 1).
    line BIGINT NOT NULL,
    email TEXT NOT NULL,
    -- The address the row invites: the typed one normalised, or the suggestion accepted.
    address TEXT,
    name TEXT NOT NULL,
    roles TEXT NOT NULL,
    places TEXT NOT NULL,
    message TEXT,
    verdict TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    dropped INTEGER NOT NULL DEFAULT 0,
    -- The admin's answer to a likely typo: 'keep' the typed address or 'accept' the suggestion.
    typo_choice TEXT,
    -- The grants resolved (`Grant::to_param`), and the person it names when they exist.
    grants TEXT,
    existing_user_id TEXT,
    -- Written by the job's batches; live only once the last batch publishes them.
    staged INTEGER NOT NULL DEFAULT 0,
    user_id TEXT,
    invitation_id TEXT,
    replaces_invitation_id TEXT,
    name_folded TEXT,
    sort_name TEXT,
    expires_at BIGINT,
    audit_id TEXT,
    audit_details TEXT,
    outbox_id TEXT,
    subject TEXT,
    text_body TEXT,
    html_body TEXT,
    PRIMARY KEY (import_id, line)
);
CREATE INDEX import_rows_by_verdict ON import_rows (import_id, verdict, line);

CREATE TABLE import_grants (
    import_id TEXT NOT NULL REFERENCES imports (id),
    line BIGINT NOT NULL,
    scope_id TEXT NOT NULL,
    role TEXT NOT NULL,
    PRIMARY KEY (import_id, line, scope_id, role)
);
