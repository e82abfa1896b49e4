-- When a finding's knowledge fact was stored. A finding whose fact the user later forgot
-- (`!forget`) keeps this, so the idle hour does not store the fact again.
ALTER TABLE research_findings ADD COLUMN stored_at TIMESTAMPTZ;
UPDATE research_findings SET stored_at = created_at WHERE fact_id IS NOT NULL;
