-- Sagas (DESIGN.md section 9). A saga's truth is its event stream saga-<id>; this row is what the
-- coordinators and the admin API need without folding streams: its status, where it stands and
-- its last failing answer (written by side rows in the transactions of its events), and which node
-- owns it until when, under which fencing token (written by the owners, judged by the database's
-- clock). compensating_since starts the compensation deadline.
CREATE TABLE sagas (
  saga_id            text        PRIMARY KEY,
  name               text        NOT NULL,
  status             text        NOT NULL, -- running, compensating, completed, compensated, review, resolved
  step               text        NOT NULL DEFAULT '',
  reason             text        NOT NULL DEFAULT '',
  last_answer        jsonb       NOT NULL DEFAULT '{}',
  started_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  owner              text        NOT NULL DEFAULT '',
  fence              bigint      NOT NULL DEFAULT 1,
  lease_until        timestamptz NOT NULL DEFAULT now(),
  compensating_since timestamptz
);
-- What a coordinator looks for on every heartbeat: active sagas whose owner's lease ran out.
CREATE INDEX sagas_active_lease ON sagas (lease_until) WHERE status IN ('running', 'compensating');
CREATE INDEX sagas_owner ON sagas (owner) WHERE status IN ('running', 'compensating');
CREATE INDEX sagas_status ON sagas (status, saga_id);
