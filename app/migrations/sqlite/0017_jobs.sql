-- Bulk actions run as jobs: a job, and one item per person with its outcome, written in the
-- request that starts it. The runner claims items in batches under a lease (as the outbox's
-- messages are claimed) and writes each person's change, email and audit line in the
-- transaction that records the item's outcome, so nobody is done twice.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    action TEXT NOT NULL,
    started_by TEXT NOT NULL REFERENCES users (id),
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
CREATE INDEX jobs_by_account ON jobs (account_id, created_at);
CREATE INDEX jobs_by_state ON jobs (state, created_at);

CREATE TABLE job_items (
    job_id TEXT NOT NULL REFERENCES jobs (id),
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
CREATE INDEX job_items_open ON job_items (job_id, seq) WHERE outcome IS NULL;
CREATE INDEX job_items_by_outcome ON job_items (job_id, outcome, reason);

-- Bulk mail waits behind mail a person is waiting for: the runner claims priority 0 first.
ALTER TABLE outbox ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
DROP INDEX outbox_due;
CREATE INDEX outbox_due ON outbox (state, priority, next_attempt_at);
