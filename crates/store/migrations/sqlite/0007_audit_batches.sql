-- Task outcomes and tracking events stored as batches: one row per chunk's records instead of
-- one row per record (crates/store/src/sqlite/audit_batch.rs says why and how they are encoded).
--
-- A batch's records have the consecutive ids first_id .. first_id + count - 1, allocated after
-- every id used before, so outcome and event ids stay unique, in insertion order, and usable as
-- keyset cursors. The per-row tables of earlier versions stay as they are and are still read:
-- their ids all come before the first batch's, so a listing reads them first. Nothing is
-- written to them any more, and nothing is copied: opening an old file costs no rewrite.

CREATE TABLE outcome_batches (
    first_id  INTEGER PRIMARY KEY,
    task_seq  INTEGER NOT NULL REFERENCES tasks(seq) ON DELETE CASCADE,
    count     INTEGER NOT NULL CHECK (count > 0),
    -- Per status, so that a listing of one status skips the batches without it unopened and a
    -- count reads no records at all.
    succeeded INTEGER NOT NULL,
    skipped   INTEGER NOT NULL,
    failed    INTEGER NOT NULL,
    created   TEXT NOT NULL,
    -- Last, so that reading the columns above never touches the record bytes' overflow pages.
    records   BLOB NOT NULL
);
CREATE INDEX outcome_batches_task ON outcome_batches (task_seq, first_id);

CREATE TABLE event_batches (
    first_id   INTEGER PRIMARY KEY,
    task_id    TEXT,                          -- the task's UUID, kept: events outlive pruned tasks
    task_seq   INTEGER,                       -- tasks.seq when the task is stored (no FK)
    course_key TEXT NOT NULL,
    count      INTEGER NOT NULL CHECK (count > 0),
    records    BLOB NOT NULL
);
CREATE INDEX event_batches_task ON event_batches (task_seq, first_id);
