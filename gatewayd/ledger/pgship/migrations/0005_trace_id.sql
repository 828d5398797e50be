-- The request's trace id while gatewayd's tracing is on
-- (schema.LedgerRecord.TraceID, the ledger's "trace_id"; docs/observability.md).
ALTER TABLE tollgate_usage ADD COLUMN trace_id text NOT NULL DEFAULT '';
