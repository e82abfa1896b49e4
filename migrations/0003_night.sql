-- The night cycle: its work tables, retry bookkeeping and digest content.

-- How the run was started, and how often it was (re)attempted.
ALTER TABLE night_runs
    ADD COLUMN trigger  TEXT NOT NULL DEFAULT 'schedule' CHECK (trigger IN ('schedule', 'manual')),
    ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
CREATE INDEX night_runs_user_date ON night_runs(user_id, night_date DESC);

-- Stage 1 output: the pending exchanges of a run, grouped by topic. Stage 2 marks each group
-- extracted (its candidates written) or failed (malformed model output: its exchanges stay
-- pending for the next night).
CREATE TABLE night_groups (
    run_id       BIGINT NOT NULL REFERENCES night_runs(id) ON DELETE CASCADE,
    group_no     INTEGER NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    message_ids  BIGINT[] NOT NULL,
    status       TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'extracted', 'failed')),
    error        TEXT,
    PRIMARY KEY (run_id, group_no)
);

-- Stage 2 output: facts the model extracted, before embedding and deduplication (stage 3
-- fills embedding, outcome and fact_id).
CREATE TABLE night_candidates (
    id               BIGSERIAL PRIMARY KEY,
    run_id           BIGINT NOT NULL REFERENCES night_runs(id) ON DELETE CASCADE,
    group_no         INTEGER NOT NULL,
    user_id          TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    text             TEXT NOT NULL,
    category         TEXT NOT NULL,
    priority         SMALLINT NOT NULL,
    kind             TEXT NOT NULL,
    source_event_ids TEXT[] NOT NULL DEFAULT '{}',
    observed_at      TIMESTAMPTZ,
    outcome          TEXT,
    fact_id          BIGINT REFERENCES facts(id) ON DELETE SET NULL
);
CREATE INDEX night_candidates_run ON night_candidates(run_id);

-- How far the digests have reported, per user: rows with ids up to these marks were shown
-- (or had nothing to show). Advanced by the digest stage, in its transaction.
CREATE TABLE night_marks (
    user_id      TEXT PRIMARY KEY REFERENCES users(user_id) ON DELETE CASCADE,
    fact_id      BIGINT NOT NULL DEFAULT 0,
    finding_id   BIGINT NOT NULL DEFAULT 0,
    tool_id      BIGINT NOT NULL DEFAULT 0,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The digest's items as data, so a second pass of the same night can add to it.
ALTER TABLE digests ADD COLUMN content JSONB NOT NULL DEFAULT '{}';
