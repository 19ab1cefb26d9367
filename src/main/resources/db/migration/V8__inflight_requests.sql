-- Requests in flight on routes with events: sync (DESIGN.md section 9). A row is inserted in the
-- transaction of the request's first events and deleted in that of its terminal event, so the
-- table holds in-flight requests only and the reaper never reads a finished one. A row whose node
-- holds no live lease in worker_leases belongs to a dead node: the reaper abandons it.
CREATE TABLE inflight_requests (
  request_id        text        PRIMARY KEY,
  node              text        NOT NULL,
  route             text        NOT NULL,
  method            text        NOT NULL,
  path              text        NOT NULL,
  client            text        NOT NULL,
  idempotency_scope text        NOT NULL, -- '' without an Idempotency-Key
  fingerprint       text        NOT NULL,
  started           timestamptz NOT NULL,
  timeout_ms        bigint      NOT NULL,
  phase             text        NOT NULL
);
CREATE INDEX inflight_requests_node ON inflight_requests (node);

-- One reaper pass at a time across the cluster: whoever holds this lease (by the database's clock).
CREATE TABLE reaper_lease (
  singleton   boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
  holder      text        NOT NULL,
  lease_until timestamptz NOT NULL
);
