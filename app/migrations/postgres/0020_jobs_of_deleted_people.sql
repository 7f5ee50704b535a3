-- A job keeps who started it after that person is deleted, as the audit trail keeps "a
-- deleted person": erasing someone who had started a job failed on this reference.
ALTER TABLE jobs DROP CONSTRAINT IF EXISTS jobs_started_by_fkey;
