-- Queues: FIFO order within a priority, concurrency and rate-limit counts.

-- created_at is the transaction's time and is shared by every row of one group-commit flush;
-- seq keeps the order rows were inserted in.
ALTER TABLE {{schema}}.workflow_status ADD COLUMN seq bigserial;

-- A Client enqueues without knowing app versions: the dequeuing executor stamps its own.
ALTER TABLE {{schema}}.workflow_status ALTER COLUMN app_version DROP NOT NULL;

DROP INDEX {{schema}}.workflow_status_dequeue;
CREATE INDEX workflow_status_dequeue ON {{schema}}.workflow_status (queue, priority, seq)
  WHERE status = 'ENQUEUED';
-- global concurrency: the running workflows of a queue, across processes
CREATE INDEX workflow_status_queue_running ON {{schema}}.workflow_status (queue)
  WHERE status = 'PENDING' AND queue IS NOT NULL;
-- rate limits: the starts of a queue within a window
CREATE INDEX workflow_status_queue_starts ON {{schema}}.workflow_status (queue, started_at)
  WHERE queue IS NOT NULL;
