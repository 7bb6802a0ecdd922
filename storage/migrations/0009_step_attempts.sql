-- How many times a step's function ran (its retries + 1), as the worker counted them: the
-- dashboard marks retried steps with it. NULL for steps skein records itself (sends, waits,
-- child starts) and for those recorded before this migration: one try, as far as anyone knows.
-- No default and no rewrite: adding a nullable column leaves the table's rows as they are.
ALTER TABLE {{schema}}.steps ADD COLUMN attempts integer;
