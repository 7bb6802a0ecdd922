-- Time: delayed starts, partitioned queues, schedules and debouncing.

-- A delayed start is ENQUEUED with `delayed_until` set; it is not claimable until a timer clears
-- it (storage/delays.ts), so queues never scan past rows that are not due: a queue holding
-- 100,000 reminders for next week claims as fast as an empty one. `start_at` keeps the time for
-- status and listings once the row is released.
ALTER TABLE {{schema}}.workflow_status ADD COLUMN start_at timestamptz;
ALTER TABLE {{schema}}.workflow_status ADD COLUMN delayed_until timestamptz;
ALTER TABLE {{schema}}.workflow_status ADD COLUMN partition_key text;
ALTER TABLE {{schema}}.workflow_status ADD COLUMN schedule_id text;
-- set on a debounced workflow: its burst is open while the row is still delayed
ALTER TABLE {{schema}}.workflow_status ADD COLUMN debounce_key text;

DROP INDEX {{schema}}.workflow_status_dequeue;
CREATE INDEX workflow_status_dequeue ON {{schema}}.workflow_status (queue, priority, seq)
  WHERE status = 'ENQUEUED' AND delayed_until IS NULL;
-- the timers' next due time, and the rows due now
CREATE INDEX workflow_status_delayed ON {{schema}}.workflow_status (delayed_until)
  WHERE delayed_until IS NOT NULL;
-- partitioned queues: the keys waiting, and the running workflows of one key
CREATE INDEX workflow_status_partition_dequeue ON {{schema}}.workflow_status (queue, partition_key, priority, seq)
  WHERE status = 'ENQUEUED' AND delayed_until IS NULL AND partition_key IS NOT NULL;
CREATE INDEX workflow_status_partition_running ON {{schema}}.workflow_status (queue, partition_key)
  WHERE status = 'PENDING' AND partition_key IS NOT NULL;
-- one open burst per (workflow, key): concurrent debounce calls from many processes meet here
CREATE UNIQUE INDEX workflow_status_debounce ON {{schema}}.workflow_status (name, debounce_key)
  WHERE debounce_key IS NOT NULL AND delayed_until IS NOT NULL;
CREATE INDEX workflow_status_schedule ON {{schema}}.workflow_status (schedule_id, created_at)
  WHERE schedule_id IS NOT NULL;

-- Dynamic schedules. `next_at` is the next tick to fire. A process that finds it due inserts the
-- tick's run (a deterministic ID: of several processes inserting it, one wins) and then moves it
-- on, guarded by the value it read (storage/schedules.ts).
CREATE TABLE {{schema}}.schedules (
  id text PRIMARY KEY,
  workflow text NOT NULL,
  cron text NOT NULL,
  timezone text NOT NULL,
  -- null: each run's input is its scheduled Date
  input bytea,
  queue text,
  paused boolean NOT NULL DEFAULT false,
  next_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX schedules_due ON {{schema}}.schedules (next_at) WHERE NOT paused;
