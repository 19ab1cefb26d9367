-- A stream's row is forgotten with its events (DESIGN.md section 4: retention drops whole
-- partitions). Every request has a stream of its own, so without this `streams` gains a row per
-- request forever. `touched_at` is the start of the transaction that last appended to the stream,
-- which is also the `recorded_at` of its newest event.
ALTER TABLE streams ADD COLUMN touched_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX streams_touched ON streams (touched_at);
