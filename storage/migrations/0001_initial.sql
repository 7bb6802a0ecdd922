-- skein system tables. {{schema}} is replaced by the validated schema name.

CREATE TABLE {{schema}}.workflow_status (
  id            text PRIMARY KEY,
  name          text NOT NULL,
  status        text NOT NULL CHECK (status IN ('PENDING', 'ENQUEUED', 'SUCCESS', 'ERROR',
                  'CANCELLED', 'MAX_RECOVERY_ATTEMPTS_EXCEEDED')),
  -- payloads are codec envelopes (threads/codec.ts); `codec` names the format family
  codec         text NOT NULL DEFAULT 'v8',
  input         bytea,
  output        bytea,
  error         bytea,
  executor_id   text NOT NULL,
  app_version   text NOT NULL,
  queue         text,
  priority      integer NOT NULL DEFAULT 0,
  dedup_id      text,
  -- dispatches so far: 1 after the first run starts, +1 per recovery
  attempts      integer NOT NULL DEFAULT 0,
  parent_id     text,
  forked_from   text,
  user_name     text,
  timeout_ms    bigint,
  deadline      timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  started_at    timestamptz,
  completed_at  timestamptz
);

-- dequeue: the startable rows of a queue in priority, then FIFO, order
CREATE INDEX workflow_status_dequeue ON {{schema}}.workflow_status (queue, priority, created_at)
  WHERE status = 'ENQUEUED';
-- recovery: the PENDING work of one executor
CREATE INDEX workflow_status_pending ON {{schema}}.workflow_status (executor_id)
  WHERE status = 'PENDING';
-- deduplication: one live holder of a dedup id per queue; released when it finishes
CREATE UNIQUE INDEX workflow_status_dedup ON {{schema}}.workflow_status (queue, dedup_id)
  WHERE dedup_id IS NOT NULL AND status IN ('ENQUEUED', 'PENDING');
CREATE INDEX workflow_status_created ON {{schema}}.workflow_status (created_at);

CREATE TABLE {{schema}}.steps (
  workflow_id        text NOT NULL REFERENCES {{schema}}.workflow_status (id) ON DELETE CASCADE,
  step_id            integer NOT NULL,
  name               text NOT NULL,
  codec              text NOT NULL DEFAULT 'v8',
  output             bytea,
  error              bytea,
  child_workflow_id  text,
  started_at         timestamptz,
  completed_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workflow_id, step_id)
);
