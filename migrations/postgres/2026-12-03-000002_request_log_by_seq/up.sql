-- The request inspector's age pruning walks `seq` from the oldest row (rows are appended in time
-- order), so the index on `at` only cost every recorded request one more B-tree insert and
-- delete. Dropping an index is safe for the previous release: its queries still run.
DROP INDEX request_log_at;
