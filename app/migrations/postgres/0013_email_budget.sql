-- Who caused each message, for the daily budget of invitation emails per sender (the
-- account's own budget counts by account_id and created_at, already indexed).
ALTER TABLE outbox ADD COLUMN sent_by TEXT;
CREATE INDEX outbox_sent_by_created ON outbox (sent_by, created_at);
