-- Accepting re-checks that the inviter may still grant every role the invitation offers;
-- when they may not, the invitation waits (still pending, accepted by the invitee) for an
-- administrator to confirm it. The invitee's row carries it too, for the Users page.
ALTER TABLE invitations ADD COLUMN awaiting_since BIGINT;
ALTER TABLE invitations ADD COLUMN awaiting_reason TEXT;
ALTER TABLE users ADD COLUMN awaiting_since BIGINT;
