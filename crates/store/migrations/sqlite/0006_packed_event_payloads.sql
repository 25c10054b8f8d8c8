-- Tracking-event payloads packed against a dictionary shared by the events written together.
--
-- A task's chunk writes one event per changed learner, and those events are near copies of one
-- another: the same keys, problem id, task id and input ids, with only the learner's answers,
-- scores and name differing. A rescore event also keeps the whole previous state, so at about
-- 1.7 KB it was the largest row a learner added, written twice (the WAL, then the checkpoint).
-- The store now keeps the first suitable payload of each written batch once, here, and stores
-- every payload of the batch LZ4-compressed against it (crates/store/src/sqlite/event_payload.rs
-- has the format), which brings a rescore event's payload to about a tenth of its text.
--
-- Dictionaries are never deleted: nothing deletes events either. No foreign key from the
-- events, so that no insert pays a lookup here; the reader reports a missing dictionary as a
-- corrupt row.
CREATE TABLE event_dictionaries (
    id      INTEGER PRIMARY KEY,
    content TEXT NOT NULL
);

-- NULL: the payload is the JSON text itself, as for every event written before this migration
-- and for any payload that packing would not make smaller. Otherwise the payload is a BLOB
-- packed against that dictionary. Adding a column rewrites no row.
ALTER TABLE tracking_events ADD COLUMN payload_dictionary INTEGER;
