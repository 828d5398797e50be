-- The price the limiter was asked to admit (schema.LedgerRecord.Cost, the
-- ledger's "cost"), admitted or not: what a replay asks for again.
ALTER TABLE tollgate_usage ADD COLUMN cost double precision NOT NULL DEFAULT 0;
