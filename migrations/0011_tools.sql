-- Self-made tools: one row per tool and user, its current version at its current stage.
-- Stages: 'proposed' (the concept is shown, waiting for ✅), 'code_shown' (the code is shown),
-- 'ready' (scanned and tested again, the install is shown), 'installed', 'rejected',
-- 'removed'. Each ✅ or ❌ is kept in tool_approvals with the version and code hash it was
-- given for.
ALTER TABLE tools DROP CONSTRAINT IF EXISTS tools_stage_check;
ALTER TABLE tools ADD CONSTRAINT tools_stage_check
    CHECK (stage IN ('proposed', 'code_shown', 'ready', 'installed', 'rejected', 'removed'));
ALTER TABLE tools
    ADD COLUMN room_id      TEXT NOT NULL DEFAULT '',
    ADD COLUMN request      TEXT NOT NULL DEFAULT '',
    ADD COLUMN version      INTEGER NOT NULL DEFAULT 1,
    ADD COLUMN parameters   JSONB NOT NULL DEFAULT '{}',
    ADD COLUMN example      JSONB NOT NULL DEFAULT '{}',
    ADD COLUMN examples     JSONB NOT NULL DEFAULT '[]',
    ADD COLUMN explanation  TEXT NOT NULL DEFAULT '',
    ADD COLUMN example_report TEXT NOT NULL DEFAULT '',
    ADD COLUMN installed_at TIMESTAMPTZ;

CREATE TABLE tool_approvals (
    id          BIGSERIAL PRIMARY KEY,
    tool_id     BIGINT NOT NULL REFERENCES tools(id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    stage       TEXT NOT NULL,
    version     INTEGER NOT NULL,
    code_hash   TEXT,
    approved    BOOLEAN NOT NULL,
    event_id    TEXT NOT NULL,
    decided_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (event_id, stage)
);
CREATE INDEX tool_approvals_tool ON tool_approvals(tool_id, decided_at);

-- How each run ended: 'returned', 'raised' or 'stopped', and why it ran.
ALTER TABLE tool_runs
    ADD COLUMN status TEXT NOT NULL DEFAULT 'returned',
    ADD COLUMN origin TEXT NOT NULL DEFAULT 'chat';
CREATE INDEX tool_runs_tool ON tool_runs(tool_id, created_at);
