-- The outcome status check, written as comparisons instead of `status IN (...)`.
--
-- Why: SQLite evaluates a CHECK with an IN list of three or more values by building a temporary
-- index of the list for every row it inserts (OpenEphemeral: open, fill, close a b-tree), and a
-- task inserts one outcome row per learner. The comparisons cost a few opcodes. Same rule, same
-- columns, same indexes; SQLite cannot alter a CHECK, so the table is rebuilt. Nothing
-- references task_outcomes, so dropping the old table breaks no foreign key.

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
    created       TEXT NOT NULL,
    UNIQUE (task_seq, module_id)
);
INSERT INTO task_outcomes_new SELECT * FROM task_outcomes;
DROP TABLE task_outcomes;
ALTER TABLE task_outcomes_new RENAME TO task_outcomes;
-- Outcome pages of a task by status (and, merged over the three statuses, of all of them).
CREATE INDEX task_outcomes_status ON task_outcomes (task_seq, status, id);
