-- The registrar's checks of the MASA audit log (RFC 8995 5.8, registrar
-- auditcheck.go): one row each time the registrar fetched and judged the
-- log after a pledge's voucher status, against the voucher exchange whose
-- registrar voucher-request it sent. findings is a JSON array of
-- {"kind", "detail"}; vouchers the number the log reports, truncated
-- entries included. Under enforce a flagged or failed check refuses the
-- pledge's EST requests until an operator approves it after checked_at.
CREATE TABLE audit_log_checks (
    id          bigserial PRIMARY KEY,
    pledge_id   bigint NOT NULL REFERENCES pledges (id) ON DELETE CASCADE,
    exchange_id bigint NOT NULL REFERENCES voucher_exchanges (id) ON DELETE CASCADE,
    mode        text NOT NULL CHECK (mode IN ('warn', 'enforce')),
    verdict     text NOT NULL CHECK (verdict IN ('pass', 'flagged', 'error')),
    findings    jsonb NOT NULL,
    vouchers    bigint NOT NULL DEFAULT 0 CHECK (vouchers >= 0),
    reason      text NOT NULL DEFAULT '',
    replica     text NOT NULL,
    checked_at  timestamptz NOT NULL
);
CREATE INDEX audit_log_checks_pledge ON audit_log_checks (pledge_id, id);
