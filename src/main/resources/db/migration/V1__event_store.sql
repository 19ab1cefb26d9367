-- The event store of DESIGN.md section 4. Events are partitioned by time so retention drops
-- whole partitions; a partition's unique index must contain the partition key, so each stream's
-- current version lives in `streams`, moved by a conditional update in the appending transaction.
CREATE TABLE streams (
  stream_id text PRIMARY KEY,
  version   integer NOT NULL
);

CREATE TABLE events (
  global_position bigserial   NOT NULL,
  id              bigint      NOT NULL,
  stream_id       text        NOT NULL,
  stream_version  integer     NOT NULL,
  type            text        NOT NULL,
  data            jsonb       NOT NULL,
  metadata        jsonb       NOT NULL DEFAULT '{}'::jsonb,
  hlc             bigint      NOT NULL,
  tx_id           xid8        NOT NULL DEFAULT pg_current_xact_id(),
  recorded_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (global_position, recorded_at)
) PARTITION BY RANGE (recorded_at);

CREATE INDEX events_stream ON events (stream_id, stream_version);
CREATE INDEX events_transaction ON events (tx_id, global_position);

-- Catches rows outside the monthly partitions created ahead of time.
CREATE TABLE events_default PARTITION OF events DEFAULT;
