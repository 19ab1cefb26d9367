-- Snowflake worker-id leases (DESIGN.md section 5), kept here when PostgreSQL is configured: the
-- node then keeps issuing ids through a Redis outage, so claims of idempotency keys can fall back
-- to PostgreSQL for as long as Redis is away. Lease ends are the database's clock.
CREATE TABLE worker_leases (
  datacenter  int         NOT NULL,
  worker_id   int         NOT NULL,
  owner       text        NOT NULL,
  lease_until timestamptz NOT NULL,
  PRIMARY KEY (datacenter, worker_id)
);
