-- When a decision's effect has run (the owner told): a bot stopped between the decision
-- and its effect finishes it at start-up. Decisions made before this column existed ran.
ALTER TABLE approvals ADD COLUMN applied_at TIMESTAMPTZ;
UPDATE approvals SET applied_at = decided_at WHERE status IN ('approved', 'rejected');
