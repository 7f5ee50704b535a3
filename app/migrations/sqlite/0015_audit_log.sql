-- The Audit log page: the person an event is about (its "Person" filter) and the places it
-- concerns (a place administrator reads the events of their places), written with each
-- event from now on; earlier events get them from what their targets are now.
ALTER TABLE audit_events ADD COLUMN subject_user_id TEXT;
UPDATE audit_events SET subject_user_id = target_id WHERE target_type = 'user';
UPDATE audit_events SET subject_user_id = (SELECT i.user_id FROM invitations i WHERE i.id = audit_events.target_id)
    WHERE target_type = 'invitation';

-- `action`, `actor_user_id` and `at` repeat the event's: a place administrator's page, whole
-- or filtered by action or actor, is read from a place's own index in time order, never by
-- sorting or walking all of the place's events.
CREATE TABLE audit_event_places (
    event_id TEXT NOT NULL REFERENCES audit_events (id),
    scope_id TEXT NOT NULL,
    action TEXT NOT NULL,
    actor_user_id TEXT,
    at BIGINT NOT NULL,
    PRIMARY KEY (event_id, scope_id)
);
CREATE INDEX audit_event_places_by_place ON audit_event_places (scope_id, at, event_id);
CREATE INDEX audit_event_places_by_action ON audit_event_places (scope_id, action, at, event_id);
CREATE INDEX audit_event_places_by_actor ON audit_event_places (scope_id, actor_user_id, at, event_id);
INSERT INTO audit_event_places (event_id, scope_id, action, actor_user_id, at)
    SELECT e.id, r.scope_id, e.action, e.actor_user_id, e.at FROM audit_events e JOIN invitation_roles r ON r.invitation_id = e.target_id WHERE e.target_type = 'invitation'
    UNION SELECT e.id, e.target_id, e.action, e.actor_user_id, e.at FROM audit_events e WHERE e.target_type = 'scope'
    UNION SELECT e.id, m.scope_id, e.action, e.actor_user_id, e.at FROM audit_events e JOIN memberships m ON m.user_id = e.target_id WHERE e.target_type = 'user';

-- Newest first, a page at a time (keyset on at, id), whole or filtered by action, actor or person.
DROP INDEX audit_events_account_at;
CREATE INDEX audit_events_account_at ON audit_events (account_id, at, id);
CREATE INDEX audit_events_by_action ON audit_events (account_id, action, at, id);
CREATE INDEX audit_events_by_actor ON audit_events (account_id, actor_user_id, at, id);
CREATE INDEX audit_events_by_subject ON audit_events (account_id, subject_user_id, at, id);
