-- The reply guard: what it caught in a reply before the user saw it (echo, repetition,
-- impersonation) and what it did instead (regenerated, or a short honest fallback).
-- NULL for replies that were fine the first time.
ALTER TABLE experience ADD COLUMN guard_flaw TEXT;
ALTER TABLE experience ADD COLUMN guard_action TEXT
    CHECK (guard_action IN ('regenerated', 'fallback'));
