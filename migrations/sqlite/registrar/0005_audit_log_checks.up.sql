-- The SQLite form of ../../registrar/0005_audit_log_checks.up.sql.
CREATE TABLE audit_log_checks (
    id          integer PRIMARY KEY AUTOINCREMENT,
    pledge_id   integer NOT NULL REFERENCES pledges (id) ON DELETE CASCADE,
    exchange_id integer NOT NULL REFERENCES voucher_exchanges (id) ON DELETE CASCADE,
    mode        text NOT NULL CHECK (mode IN ('warn', 'enforce')),
    verdict     text NOT NULL CHECK (verdict IN ('pass', 'flagged', 'error')),
    findings    text NOT NULL,
    vouchers    integer NOT NULL DEFAULT 0 CHECK (vouchers >= 0),
    reason      text NOT NULL DEFAULT '',
    replica     text NOT NULL,
    checked_at  text NOT NULL
);
CREATE INDEX audit_log_checks_pledge ON audit_log_checks (pledge_id, id);
