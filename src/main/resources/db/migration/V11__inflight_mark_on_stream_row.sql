-- A sync request's durable in-flight mark moves from a row of inflight_requests (V8) onto its
-- stream's own row in `streams`, which its appends write anyway: the opening append sets it as it
-- creates the row, the terminal append clears it as it moves the version. A request no longer
-- inserts and deletes a row of its own (with two index entries) in its two commits, and the
-- mark still lives and dies in the same transactions as the request's first and terminal events.
--
-- `inflight` holds the columns of the former row as a JSON object; `started` is the database's
-- now() of the transaction that set it. Only marked rows are in the partial index, so the reaper
-- reads in-flight requests only, however many finished streams there are.
ALTER TABLE streams ADD COLUMN inflight jsonb;
CREATE INDEX streams_inflight ON streams ((inflight ->> 'node')) WHERE inflight IS NOT NULL;

-- Requests in flight as this runs keep their mark.
UPDATE streams s SET inflight = jsonb_build_object('request_id', i.request_id, 'node', i.node, 'route', i.route,
    'method', i.method, 'path', i.path, 'client', i.client, 'idempotency_scope', i.idempotency_scope,
    'fingerprint', i.fingerprint, 'started', i.started, 'timeout_ms', i.timeout_ms, 'phase', i.phase)
  FROM inflight_requests i WHERE s.stream_id = 'request-' || i.request_id;
DROP TABLE inflight_requests;

-- append_batch (V7) with the marks: a_marks[i] is the in-flight mark the i-th append leaves on its
-- stream (a JSON object, stamped with `started`), or NULL for none. Every accepted append sets its
-- stream's mark, so any append after a request's opening (its terminal event) clears it. Callers
-- of the eight-argument form pass no marks. Otherwise the same contract and statements as V7.
DROP FUNCTION append_batch(text[], int[], int[], bigint[], text[], text[], text[], bigint[]);
CREATE FUNCTION append_batch(
    a_streams text[], a_expected int[], a_sizes int[],
    e_ids bigint[], e_types text[], e_data text[], e_metadata text[], e_hlcs bigint[],
    a_marks text[] DEFAULT NULL)
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
  mark jsonb;
  next_event int := 1;
  i int;
BEGIN
  FOR n IN 1 .. cardinality(a_streams) LOOP
    first_events[n] := next_event;
    next_event := next_event + a_sizes[n];
  END LOOP;
  FOR i IN SELECT a.n FROM unnest(a_streams) WITH ORDINALITY AS a(s, n) ORDER BY a.s, a.n LOOP
    before_version := NULL;
    mark := a_marks[i]::jsonb || jsonb_build_object('started', now());
    IF a_expected[i] = 0 THEN
      -- A row that exists is locked by the conflict even when the condition leaves it unchanged.
      INSERT INTO streams AS known (stream_id, version, inflight) VALUES (a_streams[i], a_sizes[i], mark)
        ON CONFLICT (stream_id) DO UPDATE SET version = a_sizes[i], touched_at = now(), inflight = mark
        WHERE known.version = 0;
      IF FOUND THEN
        before_version := 0;
      END IF;
    ELSIF a_expected[i] > 0 THEN
      UPDATE streams SET version = version + a_sizes[i], touched_at = now(), inflight = mark
        WHERE stream_id = a_streams[i] AND version = a_expected[i];
      IF FOUND THEN
        before_version := a_expected[i];
      END IF;
    ELSE
      INSERT INTO streams AS known (stream_id, version, inflight) VALUES (a_streams[i], a_sizes[i], mark)
        ON CONFLICT (stream_id) DO UPDATE SET version = known.version + a_sizes[i], touched_at = now(), inflight = mark
        RETURNING known.version - a_sizes[i] INTO before_version;
    END IF;
    IF before_version IS NULL THEN
      SELECT version INTO current_version FROM streams WHERE stream_id = a_streams[i] FOR UPDATE;
      current_version := coalesce(current_version, 0);
      IF a_expected[i] > 0 AND current_version = a_expected[i] THEN
        -- The update judged the version its snapshot showed; another batch's move, committed while
        -- this one waited for the lock, is seen now.
        UPDATE streams SET version = current_version + a_sizes[i], touched_at = now(), inflight = mark
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
