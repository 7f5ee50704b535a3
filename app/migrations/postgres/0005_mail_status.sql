-- The last problem the delivery worker met that only the operator can fix (a certificate
-- not trusted, a password refused), for Settings → Outgoing email. Cleared by the next
-- message that goes out. One row, shared by every worker process.
CREATE TABLE mail_status (
    singleton BIGINT PRIMARY KEY CHECK (singleton = 1),
    problem TEXT,
    problem_at BIGINT
);
