-- `threeam reembed` writes each fact's vector from a new embedding model here first; recall
-- keeps using `embedding` until every fact has its new vector, then one transaction swaps
-- them. An interrupted run resumes where it stopped.
ALTER TABLE facts ADD COLUMN embedding_next vector(384);
