-- Research on approved topics in idle hours.
-- A topic is proposed by the bot (from the user's topics and searches) or added with
-- `!research add`; 'approved' topics are researched, 'rejected' ones are never proposed
-- again, 'deleted' ones were removed with `!research delete` (their pages stay read, so what
-- was deleted does not come back).
ALTER TABLE research_topics DROP CONSTRAINT IF EXISTS research_topics_status_check;
ALTER TABLE research_topics ADD CONSTRAINT research_topics_status_check
    CHECK (status IN ('proposed', 'approved', 'rejected', 'done', 'deleted'));
ALTER TABLE research_topics
    ADD COLUMN query         TEXT NOT NULL DEFAULT '',
    ADD COLUMN room_id       TEXT NOT NULL DEFAULT '',
    ADD COLUMN origin        TEXT NOT NULL DEFAULT 'proposed' CHECK (origin IN ('proposed', 'added')),
    ADD COLUMN backoff_until TIMESTAMPTZ;
CREATE UNIQUE INDEX research_topics_user_name ON research_topics(user_id, lower(topic));

-- One research pass over one topic. 'poor' found nothing new (the topic backs off);
-- 'failed' could not search (it does not count against the daily limit).
CREATE TABLE research_runs (
    id           BIGSERIAL PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    topic_id     BIGINT NOT NULL REFERENCES research_topics(id) ON DELETE CASCADE,
    trigger      TEXT NOT NULL CHECK (trigger IN ('idle', 'now')),
    status       TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done', 'poor', 'failed')),
    hits         INTEGER NOT NULL DEFAULT 0,
    pages        INTEGER NOT NULL DEFAULT 0,
    findings     INTEGER NOT NULL DEFAULT 0,
    model_calls  INTEGER NOT NULL DEFAULT 0,
    error        TEXT,
    started_at   TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ
);
CREATE INDEX research_runs_user_time ON research_runs(user_id, started_at);

-- Each page read for a topic, written in the same transaction as its findings: a run cut
-- off by a stop or a crash resumes after the pages it finished, and a page is read once.
CREATE TABLE research_pages (
    topic_id     BIGINT NOT NULL REFERENCES research_topics(id) ON DELETE CASCADE,
    url          TEXT NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    run_id       BIGINT REFERENCES research_runs(id) ON DELETE SET NULL,
    findings     INTEGER NOT NULL DEFAULT 0,
    read_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (topic_id, url)
);

-- A finding is a short statement from one page, with the page's date if it gave one and the
-- model's confidence; `fact_id` is the knowledge fact made from it (deleted with it).
ALTER TABLE research_findings
    ADD COLUMN run_id      BIGINT REFERENCES research_runs(id) ON DELETE SET NULL,
    ADD COLUMN page_date   DATE,
    ADD COLUMN confidence  REAL NOT NULL DEFAULT 0.5,
    ADD COLUMN fact_id     BIGINT REFERENCES facts(id) ON DELETE SET NULL;

-- `!research pause` / `resume`, and the last hourly pass (idle research, proposals, the
-- self-review), per user.
CREATE TABLE research_settings (
    user_id      TEXT PRIMARY KEY REFERENCES users(user_id) ON DELETE CASCADE,
    paused       BOOLEAN NOT NULL DEFAULT false,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- What the hourly self-review has looked at (an answer, a failed tool run), so each is
-- reviewed once, and what it proposed.
CREATE TABLE self_reviews (
    id           BIGSERIAL PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    source       TEXT NOT NULL,
    source_id    BIGINT NOT NULL,
    outcome      TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (user_id, source, source_id)
);
