-- A job keeps who started it after that person is deleted, as the audit trail keeps "a
-- deleted person": erasing someone who had started a job failed on this reference. SQLite
-- drops a reference only by building the table again; its items are built again beside it,
-- so that no row ever points at a table being dropped, and renaming the new jobs table
-- carries the items' reference to its name.
CREATE TABLE jobs_new (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    action TEXT NOT NULL,
    started_by TEXT NOT NULL,
    -- What chose the people, in words (the filter, or how many rows were ticked).
    selection TEXT NOT NULL,
    state TEXT NOT NULL,
    total BIGINT NOT NULL,
    done BIGINT NOT NULL DEFAULT 0,
    skipped BIGINT NOT NULL DEFAULT 0,
    failed BIGINT NOT NULL DEFAULT 0,
    stopped_because TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    finished_at BIGINT
);
INSERT INTO jobs_new (id, account_id, action, started_by, selection, state, total, done, skipped, failed, stopped_because, created_at, updated_at, finished_at)
SELECT id, account_id, action, started_by, selection, state, total, done, skipped, failed, stopped_because, created_at, updated_at, finished_at FROM jobs;
CREATE TABLE job_items_new (
    job_id TEXT NOT NULL REFERENCES jobs_new (id),
    seq BIGINT NOT NULL,
    user_id TEXT NOT NULL,
    -- NULL until processed, then done, skipped or failed.
    outcome TEXT,
    -- A skipped item's `SkipReason`.
    reason TEXT,
    lease_until BIGINT,
    leased_by TEXT,
    processed_at BIGINT,
    PRIMARY KEY (job_id, seq)
);
INSERT INTO job_items_new (job_id, seq, user_id, outcome, reason, lease_until, leased_by, processed_at)
SELECT job_id, seq, user_id, outcome, reason, lease_until, leased_by, processed_at FROM job_items;
DROP TABLE job_items;
DROP TABLE jobs;
ALTER TABLE jobs_new RENAME TO jobs;
ALTER TABLE job_items_new RENAME TO job_items;
CREATE INDEX jobs_by_account ON jobs (account_id, created_at);
CREATE INDEX jobs_by_state ON jobs (state, created_at);
CREATE INDEX job_items_open ON job_items (job_id, seq) WHERE outcome IS NULL;
CREATE INDEX job_items_by_outcome ON job_items (job_id, outcome, reason);
