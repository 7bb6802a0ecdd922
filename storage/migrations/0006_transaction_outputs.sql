-- ctx.transaction records each transaction's output here, in the same transaction as the
-- user's writes (datasources/transaction.ts), so both commit together or neither does. This file
-- also creates the table in every datasource database (storage/datasources.ts): here, in the
-- system schema, it exists whether or not the app database is this one, so deleting a workflow
-- can delete its records in the same statement. IF NOT EXISTS: a datasource that is the system
-- database got it already.
CREATE TABLE IF NOT EXISTS {{schema}}.transaction_outputs (
  workflow_id text NOT NULL,
  step_id     integer NOT NULL,
  -- the transaction's name: a record found under another name is not this transaction's
  name        text NOT NULL,
  -- the encoded output (common/codec.ts), or the encoded error of a transaction that failed
  -- (recorded after its rollback, so that of two executions racing on it one outcome wins);
  -- a read-only transaction records nothing here
  output      bytea,
  error       bytea,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workflow_id, step_id)
);
