-- Memory module.
-- The fixed set of fact categories.
ALTER TABLE facts ADD CONSTRAINT facts_category_known CHECK (category IN (
    'identity', 'preference', 'relationship', 'work', 'health', 'plan', 'knowledge', 'procedure', 'other'));

-- The idempotency check of fact storing: "is a fact with these source event ids already in
-- memory?" (`source_event_ids @> $ids`).
CREATE INDEX facts_source_event_ids ON facts USING gin (source_event_ids);

-- Facts arrive a few at a time; without the GIN "pending list" every search sees an index
-- it can use directly, instead of scanning unmerged entries until the next vacuum.
ALTER INDEX facts_tsv_gin SET (fastupdate = off);
