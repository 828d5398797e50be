-- Monthly usage per key hash, tier and route, for invoicing: requests
-- answered, admitted, refused, and the tokens charged and settled (what a bill
-- is computed from). Only identified clients (a key hash) are billed.
CREATE VIEW tollgate_usage_monthly AS
SELECT date_trunc('month', start_at AT TIME ZONE 'UTC')                   AS month,
       key_hash,
       tier,
       route,
       sum(count)                                                          AS requests,
       coalesce(sum(count) FILTER (WHERE decision = 'allowed'), 0)         AS admitted,
       coalesce(sum(count) FILTER (WHERE decision <> 'allowed'), 0)        AS refused,
       coalesce(sum(cost_charged) FILTER (WHERE decision = 'allowed'), 0)  AS tokens_charged,
       coalesce(sum(cost_settled) FILTER (WHERE decision = 'allowed'), 0)  AS tokens_settled,
       min(start_at)                                                       AS first_request,
       max(end_at)                                                         AS last_request
FROM tollgate_usage
WHERE key_hash <> ''
GROUP BY 1, 2, 3, 4;
