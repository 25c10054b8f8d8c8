-- Subtasks: a task is planned once and then run as key ranges of learner modules, each with its
-- own lease, cursor and counters, so that several workers share one task. The task's counters
-- stay in `tasks` and are kept equal to the sum over its subtasks by `commit_chunk`, which
-- updates both in one transaction. Cursors and chunk leases move from tasks to subtasks; the
-- task's lease columns now only guard planning.

ALTER TABLE tasks DROP COLUMN cursor;
ALTER TABLE tasks ADD COLUMN subtasks INTEGER NOT NULL DEFAULT 0;

CREATE TABLE subtasks (
    task_seq         INTEGER NOT NULL REFERENCES tasks(seq) ON DELETE CASCADE,
    idx              INTEGER NOT NULL,
    after_id         INTEGER NOT NULL,       -- range: after_id < module id <= until_id
    until_id         INTEGER NOT NULL,
    state            TEXT NOT NULL
                     CHECK (state IN ('QUEUED', 'RUNNING', 'SUCCESS', 'FAILURE', 'REVOKED')),
    cursor           INTEGER NOT NULL,       -- last committed module id; starts at after_id
    attempted        INTEGER NOT NULL DEFAULT 0,
    succeeded        INTEGER NOT NULL DEFAULT 0,
    skipped          INTEGER NOT NULL DEFAULT 0,
    failed           INTEGER NOT NULL DEFAULT 0,
    lease_owner      TEXT,
    lease_expires_at TEXT,
    lease_ms         INTEGER NOT NULL DEFAULT 0,
    attempts         INTEGER NOT NULL DEFAULT 0,
    started_at       TEXT,
    updated_at       TEXT NOT NULL,
    finished_at      TEXT,
    error            TEXT,
    PRIMARY KEY (task_seq, idx)
) WITHOUT ROWID;
-- Claims walk the live subtasks of the oldest task first.
CREATE INDEX subtasks_live ON subtasks (state, task_seq, idx);

-- Worker processes (one entry per lease identity), for `coursetasks workers`.
CREATE TABLE workers (
    name         TEXT PRIMARY KEY NOT NULL,
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    started_at   TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL,
    task_id      TEXT,
    subtask      INTEGER,
    processed    INTEGER NOT NULL DEFAULT 0
);
