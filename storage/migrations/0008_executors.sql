-- The executor registry (storage/executors.ts; README "Running many processes"). A row per
-- executor ID that ever launched on this schema. Liveness is not a column: an executor is alive
-- while its registry session holds the session advisory lock `lock_key` (it dies with the
-- process or its connection) and it has heartbeat within its own lease.
CREATE TABLE {{schema}}.executors (
  executor_id  text PRIMARY KEY,
  app_version  text NOT NULL,
  host         text NOT NULL,
  pid          integer NOT NULL,
  -- the 64-bit advisory lock key of (schema, executor_id): pg_locks shows who holds it
  lock_key     bigint NOT NULL,
  -- the server process of the registry session that holds the lock
  backend_pid  integer NOT NULL,
  lease_ms     integer NOT NULL,
  started_at   timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  -- set when a live executor has taken over its PENDING work; a relaunch clears it. An
  -- executor that stopped and was not yet taken over keeps NULL: it is still to be watched.
  ended_at     timestamptz
);
-- the takeover ring: the live executors of one version, in ID order
CREATE INDEX executors_ring ON {{schema}}.executors (app_version, executor_id) WHERE ended_at IS NULL;
