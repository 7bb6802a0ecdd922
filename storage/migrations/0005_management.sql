-- Managing workflows: cancelling and deleting a workflow with its children, forks that copy
-- the events their copied steps set, and retention sweeps.

-- children of a workflow (cancel and delete follow parent_id down the tree)
CREATE INDEX workflow_status_parent ON {{schema}}.workflow_status (parent_id)
  WHERE parent_id IS NOT NULL;
-- retention: finished workflows, oldest first
CREATE INDEX workflow_status_completed ON {{schema}}.workflow_status (completed_at)
  WHERE status IN ('SUCCESS', 'ERROR', 'CANCELLED', 'MAX_RECOVERY_ATTEMPTS_EXCEEDED');
-- a setEvent step keeps the key it set (its output is the value), so a fork can copy the
-- events that the steps it copies had set
ALTER TABLE {{schema}}.steps ADD COLUMN event_key text;
