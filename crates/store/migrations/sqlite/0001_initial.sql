-- coursetasks schema, SQLite dialect.
--
-- Timestamps are TEXT in one fixed-width UTC form (YYYY-MM-DDTHH:MM:SS.ffffffZ), always bound
-- from Rust, so that comparing them as strings (lease expiry, ordering) is comparing times.
-- JSON is stored as TEXT.

CREATE TABLE learners (
    id       INTEGER PRIMARY KEY,            -- Open edX auth_user.id
    username TEXT NOT NULL UNIQUE,
    email    TEXT NOT NULL UNIQUE
);

CREATE TABLE courses (
    key          TEXT PRIMARY KEY NOT NULL,  -- course-v1:Org+Course+Run
    display_name TEXT NOT NULL,
    created      TEXT NOT NULL
);

CREATE TABLE blocks (
    usage_key    TEXT PRIMARY KEY NOT NULL,  -- block-v1:...
    course_key   TEXT NOT NULL REFERENCES courses(key) ON DELETE CASCADE,
    block_type   TEXT NOT NULL,
    parent_key   TEXT,                       -- no FK: blocks of one import arrive in any order
    display_name TEXT NOT NULL DEFAULT '',
    position     INTEGER NOT NULL DEFAULT 0,
    settings     TEXT NOT NULL DEFAULT '{}',
    legacy_key   TEXT                        -- i4x://..., unique when present
);
CREATE UNIQUE INDEX blocks_legacy_key ON blocks (legacy_key) WHERE legacy_key IS NOT NULL;
CREATE INDEX blocks_course ON blocks (course_key);
CREATE INDEX blocks_parent ON blocks (parent_key, position);

CREATE TABLE problem_versions (
    usage_key    TEXT NOT NULL REFERENCES blocks(usage_key) ON DELETE CASCADE,
    version      INTEGER NOT NULL CHECK (version >= 1),
    xml          TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    created      TEXT NOT NULL,
    PRIMARY KEY (usage_key, version)
);

-- Open edX courseware_studentmodule. AUTOINCREMENT so that ids are never reused after a
-- delete: the id is the keyset cursor of task scans and the key of task_outcomes.
CREATE TABLE learner_modules (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    learner_id  INTEGER NOT NULL REFERENCES learners(id),
    course_key  TEXT NOT NULL,
    usage_key   TEXT NOT NULL,
    module_type TEXT NOT NULL,
    state       TEXT,
    grade       REAL,
    max_grade   REAL,
    done        TEXT NOT NULL DEFAULT 'na',
    created     TEXT NOT NULL,
    modified    TEXT NOT NULL,
    UNIQUE (learner_id, usage_key, course_key)
);
-- The task scan: WHERE course_key = ? AND usage_key = ? AND id > ? ORDER BY id LIMIT n.
CREATE INDEX learner_modules_scan ON learner_modules (course_key, usage_key, id);

-- `seq` is the task's row number: outcomes and events reference it instead of the UUID, so each
-- entry of their indexes carries a small integer instead of 36 characters (PostgreSQL: `seq
-- BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY`, `id UUID NOT NULL UNIQUE`). The UUID stays
-- the task's public identity; `seq` never leaves the store.
CREATE TABLE tasks (
    seq              INTEGER PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE,       -- UUID, hyphenated lower case
    course_key       TEXT NOT NULL,
    task_type        TEXT NOT NULL,
    task_key         TEXT NOT NULL,
    input            TEXT NOT NULL,
    requester        TEXT NOT NULL,
    state            TEXT NOT NULL
                     CHECK (state IN ('QUEUED', 'RUNNING', 'SUCCESS', 'FAILURE', 'REVOKED')),
    created_at       TEXT NOT NULL,
    started_at       TEXT,
    updated_at       TEXT NOT NULL,
    finished_at      TEXT,
    total            INTEGER,
    attempted        INTEGER NOT NULL DEFAULT 0,
    succeeded        INTEGER NOT NULL DEFAULT 0,
    skipped          INTEGER NOT NULL DEFAULT 0,
    failed           INTEGER NOT NULL DEFAULT 0,
    cursor           INTEGER NOT NULL DEFAULT 0,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    lease_owner      TEXT,
    lease_expires_at TEXT,
    lease_ms         INTEGER NOT NULL DEFAULT 0, -- lease length of the last claim/renewal; commit_chunk renews by it
    attempts         INTEGER NOT NULL DEFAULT 0,
    error            TEXT
);
-- Atomic dedup: at most one non-final task per (course, type, key). A concurrent duplicate
-- insert fails on this index instead of racing a check-then-insert.
CREATE UNIQUE INDEX tasks_active_dedup ON tasks (course_key, task_type, task_key)
    WHERE state IN ('QUEUED', 'RUNNING');
-- Claims: oldest queued first; expired leases of running tasks.
CREATE INDEX tasks_claim ON tasks (state, created_at);
CREATE INDEX tasks_course ON tasks (course_key, created_at);

CREATE TABLE task_outcomes (
    id            INTEGER PRIMARY KEY,
    task_seq      INTEGER NOT NULL REFERENCES tasks(seq) ON DELETE CASCADE,
    module_id     INTEGER,                   -- no FK: delete-state tasks delete the module
    learner_id    INTEGER NOT NULL,
    username      TEXT NOT NULL,
    usage_key     TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('succeeded', 'skipped', 'failed')),
    reason        TEXT,
    old_grade     REAL,
    old_max_grade REAL,
    new_grade     REAL,
    new_max_grade REAL,
    created       TEXT NOT NULL,
    UNIQUE (task_seq, module_id)
);
-- Outcome pages of a task by status (and, merged over the three statuses, of all of them).
CREATE INDEX task_outcomes_status ON task_outcomes (task_seq, status, id);

CREATE TABLE tracking_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id    TEXT,                         -- the task's UUID, kept: events outlive pruned tasks
    task_seq   INTEGER,                      -- tasks.seq when the task is stored (no FK, as above)
    event_type TEXT NOT NULL,
    time       TEXT NOT NULL,
    username   TEXT NOT NULL,
    user_id    INTEGER NOT NULL,
    course_key TEXT NOT NULL,
    usage_key  TEXT,
    requester  TEXT NOT NULL,
    payload    TEXT NOT NULL
);
-- Events of a task, by task_seq (NULL for events outside a stored task). No index by course:
-- it cost every chunk an insert into a text-keyed b-tree for a listing that a walk of the
-- table in id order serves (each event is passed over once across all pages).
CREATE INDEX tracking_events_task ON tracking_events (task_seq, id);
