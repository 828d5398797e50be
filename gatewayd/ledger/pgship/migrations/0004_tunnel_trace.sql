-- Bytes an upgraded tunnel carried (schema.LedgerRecord.BytesIn/BytesOut,
-- the ledger's "bytes_in"/"bytes_out") and the request's trace id while
-- gatewayd's tracing is on ("trace_id"; docs/observability.md).
ALTER TABLE tollgate_usage ADD COLUMN bytes_in bigint NOT NULL DEFAULT 0;
ALTER TABLE tollgate_usage ADD COLUMN bytes_out bigint NOT NULL DEFAULT 0;
ALTER TABLE tollgate_usage ADD COLUMN trace_id text NOT NULL DEFAULT '';
