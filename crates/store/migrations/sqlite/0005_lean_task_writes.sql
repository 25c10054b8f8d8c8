-- Fewer b-trees per learner in a task's chunk commit: every learner a task visits adds an
-- outcome row and, when it changed, an event row, so each extra b-tree a row touches is paid a
-- million times by a million-learner task.
--
-- tracking_events loses AUTOINCREMENT. With it SQLite reads and rewrites the table's row in
-- sqlite_sequence on every INSERT statement, and the store inserts events one row per
-- statement. Nothing ever deletes an event (the table is append-only: events outlive their
-- tasks), so a plain INTEGER PRIMARY KEY, which takes the largest id plus one, never reuses an
-- id either, and event ids stay usable as an export cursor.
--
-- task_outcomes loses UNIQUE (task_seq, module_id), an index written for every outcome and read
-- by nothing. What it guarded, one outcome per task and module even when a chunk is committed
-- twice, is already guaranteed where the chunk is committed: commit_chunk's fence refuses a
-- chunk whose subtask cursor has moved, in the same write transaction that inserts the rows.
-- The status index stays (outcome listings and counts read it).
--
-- SQLite cannot drop a table constraint or AUTOINCREMENT in place, so both tables are rebuilt.
-- Nothing references either table, so dropping the old ones breaks no foreign key. The rebuild
-- copies every event and outcome once, when a newer coursetasks first opens the file: about
-- 20,000 instructions per learner a task has visited, i.e. several seconds per million such
-- learners, once.

CREATE TABLE tracking_events_new (
    id         INTEGER PRIMARY KEY,
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
INSERT INTO tracking_events_new SELECT * FROM tracking_events;
DROP TABLE tracking_events;
ALTER TABLE tracking_events_new RENAME TO tracking_events;
CREATE INDEX tracking_events_task ON tracking_events (task_seq, id);

CREATE TABLE task_outcomes_new (
    id            INTEGER PRIMARY KEY,
    task_seq      INTEGER NOT NULL REFERENCES tasks(seq) ON DELETE CASCADE,
    module_id     INTEGER,                   -- no FK: delete-state tasks delete the module
    learner_id    INTEGER NOT NULL,
    username      TEXT NOT NULL,
    usage_key     TEXT NOT NULL,
    status        TEXT NOT NULL
                  CHECK (status = 'succeeded' OR status = 'skipped' OR status = 'failed'),
    reason        TEXT,
    old_grade     REAL,
    old_max_grade REAL,
    new_grade     REAL,
    new_max_grade REAL,
    created       TEXT NOT NULL
);
INSERT INTO task_outcomes_new SELECT * FROM task_outcomes;
DROP TABLE task_outcomes;
ALTER TABLE task_outcomes_new RENAME TO task_outcomes;
CREATE INDEX task_outcomes_status ON task_outcomes (task_seq, status, id);
