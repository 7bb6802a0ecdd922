-- Messages between workflows, and workflow events.

CREATE TABLE {{schema}}.messages (
  id              bigserial PRIMARY KEY,
  destination_id  text NOT NULL,
  -- '' for a message sent without a topic (user topics are non-empty)
  topic           text NOT NULL,
  message         bytea NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now()
);
-- a receiver's inbox per topic, oldest first
CREATE INDEX messages_inbox ON {{schema}}.messages (destination_id, topic, id);

-- Idempotency keys of sends from outside workflows. Kept apart from the messages themselves,
-- which are deleted when received, so a repeated send stays a no-op after delivery.
CREATE TABLE {{schema}}.message_keys (
  destination_id   text NOT NULL,
  idempotency_key  text NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (destination_id, idempotency_key)
);

CREATE TABLE {{schema}}.events (
  workflow_id  text NOT NULL,
  key          text NOT NULL,
  value        bytea NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workflow_id, key)
);
