-- The bytes an upgraded tunnel (status 101) carried from and to the client
-- (schema.LedgerRecord.BytesIn/BytesOut, the ledger's "bytes_in"/"bytes_out").
ALTER TABLE tollgate_usage ADD COLUMN bytes_in bigint NOT NULL DEFAULT 0;
ALTER TABLE tollgate_usage ADD COLUMN bytes_out bigint NOT NULL DEFAULT 0;
