-- Where each fact sat on the last memory map drawn (the aligned 2-D projection of its
-- embedding): the next map is fitted onto these, so the picture keeps its shape from night
-- to night. Erasing a fact erases its place.
CREATE TABLE map_positions (
    user_id  TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    fact_id  BIGINT NOT NULL REFERENCES facts(id) ON DELETE CASCADE,
    x        DOUBLE PRECISION NOT NULL,
    y        DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (user_id, fact_id)
);
CREATE INDEX map_positions_fact ON map_positions(fact_id);
