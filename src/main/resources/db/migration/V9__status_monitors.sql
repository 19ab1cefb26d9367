-- Status monitors of requests answered 202 under Prefer: respond-async (DESIGN.md section 9). The
-- client's polls keep heard_until ahead (by the database's clock): the node running the request
-- cancels it once heard_until has passed. The answer, or why there is none, is kept until expires_at.
CREATE TABLE status_monitors (
  request_id   text        PRIMARY KEY,
  node         text        NOT NULL,
  state        text        NOT NULL, -- running, answered, ended
  heartbeat_ms bigint      NOT NULL,
  keep_ms      bigint      NOT NULL,
  heard_until  timestamptz NOT NULL,
  expires_at   timestamptz NOT NULL,
  answer       jsonb,
  reason       text        NOT NULL DEFAULT ''
);
CREATE INDEX status_monitors_expires_at ON status_monitors (expires_at);
