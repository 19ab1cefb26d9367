-- Per-resource state for route locks: the largest fencing token issued (only grows, even when the
-- Redis that holds the leases loses its data) and the count of writes completed under the latest token.
CREATE TABLE resource_state (
  resource      text   PRIMARY KEY,
  version       bigint NOT NULL DEFAULT 0,
  fencing_token bigint NOT NULL
);
