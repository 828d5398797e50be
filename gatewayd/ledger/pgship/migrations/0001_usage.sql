-- tollgate usage ledger in PostgreSQL: one row per ledger record, partitioned
-- by month of the request's start (UTC). A row is unique on (start_at, id):
-- the request id, with the partition key PostgreSQL requires in a unique
-- constraint of a partitioned table; a record always ships with the same
-- start, so re-shipping it is a no-op (ON CONFLICT DO NOTHING).
CREATE TABLE tollgate_usage (
    id               text             NOT NULL,
    start_at         timestamptz      NOT NULL,
    end_at           timestamptz      NOT NULL,
    key_hash         text             NOT NULL DEFAULT '',
    tier             text             NOT NULL DEFAULT '',
    route            text             NOT NULL DEFAULT '',
    method           text             NOT NULL,
    path             text             NOT NULL,
    path_truncated   boolean          NOT NULL DEFAULT false,
    status           integer          NOT NULL,
    decision         text             NOT NULL,
    unmetered        boolean          NOT NULL DEFAULT false,
    cost_charged     double precision NOT NULL,
    cost_settled     double precision NOT NULL,
    shadow           text             NOT NULL DEFAULT '',
    shadow_disagrees boolean          NOT NULL DEFAULT false,
    upstream_ms      double precision NOT NULL DEFAULT 0,
    decided_us       bigint           NOT NULL DEFAULT 0,
    count            bigint           NOT NULL DEFAULT 1,
    client           text             NOT NULL DEFAULT '',
    source           text             NOT NULL,
    PRIMARY KEY (start_at, id)
) PARTITION BY RANGE (start_at);

CREATE INDEX tollgate_usage_key_hash ON tollgate_usage (key_hash, start_at);

-- Where each gatewayd ledger (source) has been shipped up to: the byte
-- offset after the last record shipped from each file. Updated in the same
-- transaction as the rows, so a crash on either side neither loses nor
-- repeats a record.
CREATE TABLE tollgate_ship_position (
    source     text        NOT NULL,
    file       text        NOT NULL,
    "offset"   bigint      NOT NULL,
    records    bigint      NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, file)
);

-- Rows of a month whose partition was detached (retention) land here rather
-- than stopping the shipper; the shipper creates every other month's
-- partition before inserting into it.
CREATE TABLE tollgate_usage_default PARTITION OF tollgate_usage DEFAULT;
