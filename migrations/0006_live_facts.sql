-- The one definition of a live fact: not ended, not replaced by a newer one, not archived.
-- Queries read `live_facts` instead of repeating the condition. The planner inlines the view,
-- so the partial and vector indexes on `facts` still serve them. A view keeps the columns
-- `facts` had when it was made: a migration that adds a column to `facts` recreates it.
CREATE VIEW live_facts AS
    SELECT * FROM facts
    WHERE valid_to IS NULL AND superseded_by IS NULL AND archived_at IS NULL;
