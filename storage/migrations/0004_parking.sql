-- Parking: a workflow waiting off its thread leaves its wake condition on its row, so a
-- relaunch re-arms it instead of dispatching it (runtime/parked.ts, recovery/recover.ts).
-- wait_kind: 'time' | 'message' | 'event' | 'done'. wait_for / wait_name: the message's
-- destination and topic, the event's workflow and key, or the awaited workflow's ID.
-- wait_step: the first step id whose record means the wait is over; a record with steps at or
-- beyond it is stale (the workflow woke and moved on) and is ignored.
ALTER TABLE {{schema}}.workflow_status
  ADD COLUMN wait_kind text,
  ADD COLUMN wait_for  text,
  ADD COLUMN wait_name text,
  ADD COLUMN wake_at   timestamptz,
  ADD COLUMN wait_step integer;
