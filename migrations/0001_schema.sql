-- 3AM data model. Every user-owned row carries user_id (the user's Matrix id), and every
-- query the bot makes is scoped by it.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE users (
    user_id       TEXT PRIMARY KEY,
    display_name  TEXT,
    timezone      TEXT NOT NULL DEFAULT 'UTC',
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen_at  TIMESTAMPTZ
);

-- The user's private room with the bot (usually one; a user may open another).
CREATE TABLE rooms (
    room_id     TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    encrypted   BOOLEAN NOT NULL DEFAULT false,
    joined_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    left_at     TIMESTAMPTZ
);
CREATE INDEX rooms_user ON rooms(user_id);

-- Conversation log. The Matrix event id makes storing idempotent.
CREATE TABLE messages (
    id            BIGSERIAL PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    room_id       TEXT NOT NULL,
    event_id      TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    body          TEXT NOT NULL,
    thread_root   TEXT,
    in_reply_to   TEXT,
    sent_at       TIMESTAMPTZ NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- user messages: received -> answering -> answered | failed (retried later)
    reply_state   TEXT NOT NULL DEFAULT 'received'
                  CHECK (reply_state IN ('received', 'answering', 'answered', 'failed', 'none')),
    reply_event_id TEXT,
    reply_attempts INTEGER NOT NULL DEFAULT 0,
    -- false for commands, their answers and notices: the model never sees those
    in_conversation BOOLEAN NOT NULL DEFAULT true,
    -- set once the night cycle has committed the facts of this exchange
    night_processed_at TIMESTAMPTZ
);
CREATE INDEX messages_user_time ON messages(user_id, sent_at);
CREATE INDEX messages_pending_reply ON messages(user_id, reply_state) WHERE reply_state IN ('received', 'failed', 'answering');
CREATE INDEX messages_pending_night ON messages(user_id) WHERE night_processed_at IS NULL;

CREATE TABLE clusters (
    id           BIGSERIAL PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    label        INTEGER NOT NULL,
    name         TEXT NOT NULL DEFAULT '',
    importance   REAL NOT NULL DEFAULT 0,
    size         INTEGER NOT NULL DEFAULT 0,
    centroid     vector(384),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    retired_at   TIMESTAMPTZ
);
CREATE INDEX clusters_user ON clusters(user_id) WHERE retired_at IS NULL;

CREATE TABLE facts (
    id               BIGSERIAL PRIMARY KEY,
    user_id          TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    text             TEXT NOT NULL,
    category         TEXT NOT NULL,
    priority         SMALLINT NOT NULL CHECK (priority BETWEEN 1 AND 5),
    kind             TEXT NOT NULL DEFAULT 'personal' CHECK (kind IN ('personal', 'knowledge', 'procedure')),
    source_event_ids TEXT[] NOT NULL DEFAULT '{}',
    embedding        vector(384),
    tsv              tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    valid_from       TIMESTAMPTZ NOT NULL DEFAULT now(),
    valid_to         TIMESTAMPTZ,
    superseded_by    BIGINT REFERENCES facts(id) ON DELETE SET NULL,
    archived_at      TIMESTAMPTZ,
    access_count     INTEGER NOT NULL DEFAULT 0,
    last_accessed_at TIMESTAMPTZ,
    cluster_id       BIGINT REFERENCES clusters(id) ON DELETE SET NULL
);
CREATE INDEX facts_user_live ON facts(user_id) WHERE valid_to IS NULL AND archived_at IS NULL;
CREATE INDEX facts_embedding_hnsw ON facts USING hnsw (embedding vector_cosine_ops);
CREATE INDEX facts_tsv_gin ON facts USING gin (tsv);

CREATE TABLE cluster_members (
    cluster_id  BIGINT NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
    fact_id     BIGINT NOT NULL REFERENCES facts(id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    PRIMARY KEY (cluster_id, fact_id)
);
CREATE INDEX cluster_members_fact ON cluster_members(fact_id);

-- One row per bot reply: what the gate decided, how confident the answer was, and feedback.
CREATE TABLE experience (
    id               BIGSERIAL PRIMARY KEY,
    user_id          TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    room_id          TEXT NOT NULL,
    message_event_id TEXT NOT NULL,
    reply_event_id   TEXT UNIQUE,
    gate_action      TEXT NOT NULL DEFAULT 'answer' CHECK (gate_action IN ('answer', 'search', 'ask')),
    gate_reason      TEXT NOT NULL DEFAULT '',
    confidence       REAL,
    mean_logprob     REAL,
    min_token_prob   REAL,
    mean_entropy     REAL,
    facts_used       BIGINT[] NOT NULL DEFAULT '{}',
    searched         BOOLEAN NOT NULL DEFAULT false,
    latency_ms       INTEGER,
    feedback         SMALLINT CHECK (feedback IN (-1, 0, 1)),
    tags             TEXT[] NOT NULL DEFAULT '{}',
    comment          TEXT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    feedback_at      TIMESTAMPTZ
);
CREATE INDEX experience_user_time ON experience(user_id, created_at);

-- Every reaction the bot acted on, so a redelivered reaction is not applied twice and a
-- redaction can undo it.
CREATE TABLE reactions (
    event_id         TEXT PRIMARY KEY,
    user_id          TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    room_id          TEXT NOT NULL,
    target_event_id  TEXT NOT NULL,
    key              TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    redacted_at      TIMESTAMPTZ
);
CREATE INDEX reactions_target ON reactions(target_event_id);

CREATE TABLE behaviour_profile (
    id               BIGSERIAL PRIMARY KEY,
    user_id          TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    version          INTEGER NOT NULL,
    verbosity        REAL NOT NULL DEFAULT 0.5,
    unsure_action    TEXT NOT NULL DEFAULT 'hedge' CHECK (unsure_action IN ('answer', 'hedge', 'search')),
    search_threshold REAL NOT NULL DEFAULT 0.45,
    ask_threshold    REAL NOT NULL DEFAULT 0.25,
    reason           TEXT NOT NULL DEFAULT 'initial profile',
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (user_id, version)
);

CREATE TABLE user_profile (
    user_id          TEXT PRIMARY KEY REFERENCES users(user_id) ON DELETE CASCADE,
    text             TEXT NOT NULL,
    source_fact_ids  BIGINT[] NOT NULL DEFAULT '{}',
    generated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE research_topics (
    id           BIGSERIAL PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    topic        TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'proposed' CHECK (status IN ('proposed', 'approved', 'rejected', 'done')),
    reason       TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    decided_at   TIMESTAMPTZ,
    last_researched_at TIMESTAMPTZ
);
CREATE INDEX research_topics_user ON research_topics(user_id, status);

CREATE TABLE research_findings (
    id           BIGSERIAL PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    topic_id     BIGINT NOT NULL REFERENCES research_topics(id) ON DELETE CASCADE,
    title        TEXT NOT NULL,
    url          TEXT,
    summary      TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX research_findings_user ON research_findings(user_id, created_at);

CREATE TABLE tools (
    id           BIGSERIAL PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL,
    stage        TEXT NOT NULL DEFAULT 'proposed'
                 CHECK (stage IN ('proposed', 'code_shown', 'installed', 'rejected', 'removed')),
    code         TEXT,
    code_hash    TEXT,
    scan_report  TEXT,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (user_id, name)
);

CREATE TABLE tool_runs (
    id           BIGSERIAL PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    tool_id      BIGINT NOT NULL REFERENCES tools(id) ON DELETE CASCADE,
    input        JSONB NOT NULL,
    output       TEXT,
    exit_code    INTEGER,
    duration_ms  INTEGER,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A bot message awaiting the owner's ✅/❌ (tool stage, research topic, forget request…).
CREATE TABLE approvals (
    id           BIGSERIAL PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    room_id      TEXT NOT NULL,
    event_id     TEXT NOT NULL UNIQUE,
    kind         TEXT NOT NULL,
    payload      JSONB NOT NULL DEFAULT '{}',
    status       TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected', 'expired')),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    decided_at   TIMESTAMPTZ
);
CREATE INDEX approvals_user_pending ON approvals(user_id) WHERE status = 'pending';

-- One row per user per night; `stage` is the last completed stage, so a crash resumes.
CREATE TABLE night_runs (
    id           BIGSERIAL PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    night_date   DATE NOT NULL,
    stage        TEXT NOT NULL DEFAULT 'start',
    status       TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done', 'failed')),
    stats        JSONB NOT NULL DEFAULT '{}',
    error        TEXT,
    started_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at  TIMESTAMPTZ,
    UNIQUE (user_id, night_date)
);

CREATE TABLE digests (
    id           BIGSERIAL PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    for_date     DATE NOT NULL,
    body         TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at      TIMESTAMPTZ,
    event_id     TEXT,
    UNIQUE (user_id, for_date)
);
