-- The durable side of Idempotency-Key (DESIGN.md section 4). A completed answer is written in the
-- transaction of its RequestCompleted event (or alone on routes without events), so Redis may lose
-- it and a retry is still replayed. When Redis cannot be reached, claims themselves live here
-- (state 'in_flight', with their owner and lease) until it returns.
CREATE TABLE idempotency_records (
  scope_key    text        PRIMARY KEY,
  state        text        NOT NULL CHECK (state IN ('in_flight', 'completed', 'unknown')),
  fingerprint  text        NOT NULL,
  owner        text,
  lease_until  timestamptz,
  answer       jsonb,
  request_id   text,
  completed_at timestamptz,
  expires_at   timestamptz NOT NULL
);
-- The purge and the Bloom filter's rebuild at start both walk rows by expiry.
CREATE INDEX idempotency_records_expiry ON idempotency_records (expires_at);
