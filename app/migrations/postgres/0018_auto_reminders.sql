-- The PostgreSQL twin of ../sqlite/0018.
-- Reminders Beckon sends by itself (Settings → Invitations, off by default): so many days
-- after sending, and so many days before expiry. Each goes at most once per link: the link
-- version it went for is kept on the invitation, and a new link makes it due again.
ALTER TABLE accounts ADD COLUMN remind_after_days BIGINT;
ALTER TABLE accounts ADD COLUMN remind_before_days BIGINT;
ALTER TABLE invitations ADD COLUMN auto_after_version BIGINT;
ALTER TABLE invitations ADD COLUMN auto_before_version BIGINT;
