-- The SQLite form of ../../registrar/0002_brski.up.sql.

CREATE TABLE manufacturers (
    id            integer PRIMARY KEY AUTOINCREMENT,
    name          text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
    idevid_anchor blob NOT NULL,
    masa_url      text,
    masa_anchor   blob,
    serial_field  text NOT NULL DEFAULT 'serialNumber'
                  CHECK (serial_field IN ('serialNumber', 'hardwareModuleName', 'commonName')),
    created_at    text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
);

CREATE TABLE allowlist (
    manufacturer_id integer NOT NULL REFERENCES manufacturers (id) ON DELETE CASCADE,
    serial          text NOT NULL CHECK (length(serial) BETWEEN 1 AND 128),
    note            text NOT NULL DEFAULT '',
    created_at      text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z'),
    PRIMARY KEY (manufacturer_id, serial)
);

CREATE TABLE pledges (
    id              integer PRIMARY KEY AUTOINCREMENT,
    manufacturer_id integer NOT NULL REFERENCES manufacturers (id),
    serial          text NOT NULL,
    idevid          blob NOT NULL,
    decision        text NOT NULL DEFAULT 'pending' CHECK (decision IN ('pending', 'approved', 'denied')),
    decided_by      text,
    decided_at      text,
    state           text NOT NULL DEFAULT 'new' CHECK (state IN (
                        'new', 'voucher-requested', 'voucher-issued', 'voucher-accepted',
                        'voucher-rejected', 'enrolled', 'enroll-failed')),
    created_at      text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z'),
    updated_at      text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z'),
    UNIQUE (manufacturer_id, serial)
);
CREATE INDEX pledges_decision ON pledges (decision, created_at);

CREATE TABLE voucher_exchanges (
    id                 integer PRIMARY KEY AUTOINCREMENT,
    pledge_id          integer NOT NULL REFERENCES pledges (id) ON DELETE CASCADE,
    pledge_request     blob NOT NULL,
    registrar_request  blob,
    voucher            blob,
    nonce              text,
    outcome            text NOT NULL CHECK (outcome IN ('held', 'denied', 'issued', 'masa-pending', 'masa-refused', 'masa-unreachable', 'rejected')),
    masa_status        integer,
    reason             text NOT NULL DEFAULT '',
    replica            text NOT NULL,
    created_at         text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
);
CREATE INDEX voucher_exchanges_pledge ON voucher_exchanges (pledge_id, created_at);

CREATE TABLE telemetry (
    id          integer PRIMARY KEY AUTOINCREMENT,
    pledge_id   integer NOT NULL REFERENCES pledges (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('voucher-status', 'enroll-status')),
    status      integer NOT NULL CHECK (status IN (0, 1)),
    reason      text NOT NULL DEFAULT '',
    body        text NOT NULL,
    created_at  text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
);

CREATE TABLE certificates (
    serial      text PRIMARY KEY,
    pledge_id   integer NOT NULL REFERENCES pledges (id) ON DELETE CASCADE,
    operation   text NOT NULL,
    subject     text NOT NULL,
    not_before  text NOT NULL,
    not_after   text NOT NULL,
    der         blob NOT NULL,
    created_at  text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
);
CREATE INDEX certificates_pledge ON certificates (pledge_id, created_at);

CREATE TABLE admin_tokens (
    id          integer PRIMARY KEY AUTOINCREMENT,
    name        text NOT NULL,
    role        text NOT NULL CHECK (role IN ('admin', 'operator', 'auditor')),
    token_hash  blob NOT NULL UNIQUE,
    created_at  text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z'),
    revoked_at  text
);

CREATE TABLE audit_events (
    id          integer PRIMARY KEY AUTOINCREMENT,
    at          text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z'),
    actor       text NOT NULL,
    action      text NOT NULL,
    subject     text NOT NULL DEFAULT '',
    detail      text NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_at ON audit_events (at);
