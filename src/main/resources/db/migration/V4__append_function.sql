-- One batch of appends as one statement, so a batch without side rows costs a single round trip
-- and commits as its own transaction (the gateway's sync routes wait for two such commits per
-- request). Appends are checked in the order given, so several appends to one stream in a batch
-- behave as if each had committed on its own; stream rows are locked in stream-id order, so
-- concurrent batches serialize per stream and never deadlock.
--
-- Per append: its stream, its expected version (-1 = any, 0 = no stream yet, n = exactly n) and
-- its number of events; the events' columns follow in append order. Returns per append the
-- version its stream had before it when it was written, or -(current version + 1) when its
-- expected version was wrong (nothing of it is written).
CREATE FUNCTION append_batch(
    a_streams text[], a_expected int[], a_sizes int[],
    e_ids bigint[], e_types text[], e_data text[], e_metadata text[], e_hlcs bigint[])
  RETURNS int[]
  LANGUAGE plpgsql AS $$
DECLARE
  outcomes int[] := '{}';
  written_index int[] := '{}';
  written_stream text[] := '{}';
  written_version int[] := '{}';
  current_version int;
  first_event int := 1;
BEGIN
  INSERT INTO streams (stream_id, version)
    SELECT DISTINCT s, 0 FROM unnest(a_streams) AS s ORDER BY 1 ON CONFLICT (stream_id) DO NOTHING;
  PERFORM 1 FROM streams WHERE stream_id = ANY (a_streams) ORDER BY stream_id FOR UPDATE;
  FOR i IN 1 .. cardinality(a_streams) LOOP
    SELECT version INTO current_version FROM streams WHERE stream_id = a_streams[i];
    IF a_expected[i] >= 0 AND a_expected[i] <> current_version THEN
      outcomes := outcomes || (-current_version - 1);
    ELSE
      outcomes := outcomes || current_version;
      UPDATE streams SET version = current_version + a_sizes[i], touched_at = now()
        WHERE stream_id = a_streams[i];
      FOR j IN 0 .. a_sizes[i] - 1 LOOP
        written_index := written_index || (first_event + j);
        written_stream := written_stream || a_streams[i];
        written_version := written_version || (current_version + 1 + j);
      END LOOP;
    END IF;
    first_event := first_event + a_sizes[i];
  END LOOP;
  INSERT INTO events (id, stream_id, stream_version, type, data, metadata, hlc)
    SELECT e_ids[k], s, v, e_types[k], e_data[k]::jsonb, e_metadata[k]::jsonb, e_hlcs[k]
    FROM unnest(written_index, written_stream, written_version) AS w(k, s, v);
  RETURN outcomes;
END
$$;
