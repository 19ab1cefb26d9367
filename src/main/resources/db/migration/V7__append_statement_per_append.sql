-- append_batch (V4) deciding each append with one statement where V4 spent three for the batch
-- and two per append: the stream row is created, moved or checked by a single insert or update,
-- which also locks it (a rejected append takes one or two more). Half the database time of a
-- request's two appends on the gateway's sync routes (loadtest/append-function-bench.sh).
--
-- Same contract as V4: appends are decided in the order given within each stream; returns per
-- append the version its stream had before it, or -(current version + 1) when its expected
-- version was wrong (nothing of it is written); events keep the batch's order. Appends are
-- visited in stream-id order, so concurrent batches lock stream rows alike and never deadlock. An
-- append whose guarded update misses locks the row and looks again before it is rejected, as V4
-- did: a move committed while it waited may have brought the stream to the expected version.
-- Unlike V4, an exact expectation on a stream another transaction is creating but has not
-- committed does not wait for it: it is rejected (version 0), ordered before that creation. A
-- rejected append no longer leaves an empty stream row behind.
CREATE OR REPLACE FUNCTION append_batch(
    a_streams text[], a_expected int[], a_sizes int[],
    e_ids bigint[], e_types text[], e_data text[], e_metadata text[], e_hlcs bigint[])
  RETURNS int[]
  LANGUAGE plpgsql AS $$
DECLARE
  outcomes int[] := array_fill(0, ARRAY[cardinality(a_streams)]);
  first_events int[] := array_fill(0, ARRAY[cardinality(a_streams)]);
  written_index int[] := '{}';
  written_stream text[] := '{}';
  written_version int[] := '{}';
  before_version int;
  current_version int;
  next_event int := 1;
  i int;
BEGIN
  FOR n IN 1 .. cardinality(a_streams) LOOP
    first_events[n] := next_event;
    next_event := next_event + a_sizes[n];
  END LOOP;
  FOR i IN SELECT a.n FROM unnest(a_streams) WITH ORDINALITY AS a(s, n) ORDER BY a.s, a.n LOOP
    before_version := NULL;
    IF a_expected[i] = 0 THEN
      -- A row that exists is locked by the conflict even when the condition leaves it unchanged.
      INSERT INTO streams AS known (stream_id, version) VALUES (a_streams[i], a_sizes[i])
        ON CONFLICT (stream_id) DO UPDATE SET version = a_sizes[i], touched_at = now() WHERE known.version = 0;
      IF FOUND THEN
        before_version := 0;
      END IF;
    ELSIF a_expected[i] > 0 THEN
      UPDATE streams SET version = version + a_sizes[i], touched_at = now()
        WHERE stream_id = a_streams[i] AND version = a_expected[i];
      IF FOUND THEN
        before_version := a_expected[i];
      END IF;
    ELSE
      INSERT INTO streams AS known (stream_id, version) VALUES (a_streams[i], a_sizes[i])
        ON CONFLICT (stream_id) DO UPDATE SET version = known.version + a_sizes[i], touched_at = now()
        RETURNING known.version - a_sizes[i] INTO before_version;
    END IF;
    IF before_version IS NULL THEN
      SELECT version INTO current_version FROM streams WHERE stream_id = a_streams[i] FOR UPDATE;
      current_version := coalesce(current_version, 0);
      IF a_expected[i] > 0 AND current_version = a_expected[i] THEN
        -- The update judged the version its snapshot showed; another batch's move, committed while
        -- this one waited for the lock, is seen now.
        UPDATE streams SET version = current_version + a_sizes[i], touched_at = now()
          WHERE stream_id = a_streams[i];
        before_version := current_version;
      END IF;
    END IF;
    IF before_version IS NULL THEN
      outcomes[i] := -current_version - 1;
    ELSE
      outcomes[i] := before_version;
      FOR j IN 0 .. a_sizes[i] - 1 LOOP
        written_index := written_index || (first_events[i] + j);
        written_stream := written_stream || a_streams[i];
        written_version := written_version || (before_version + 1 + j);
      END LOOP;
    END IF;
  END LOOP;
  INSERT INTO events (id, stream_id, stream_version, type, data, metadata, hlc)
    SELECT e_ids[k], s, v, e_types[k], e_data[k]::jsonb, e_metadata[k]::jsonb, e_hlcs[k]
    FROM unnest(written_index, written_stream, written_version) AS w(k, s, v)
    ORDER BY k;
  RETURN outcomes;
END
$$;
