-- Which archiving put a place away: restoring a place brings back the places that the same
-- archiving put away with it, never one that had been archived on its own before.
ALTER TABLE scopes ADD COLUMN archive_id TEXT;
