-- The registrar's BRSKI state (RFC 8995): manufacturers it trusts, the
-- allow-list, pledges and their decisions, every voucher exchange and
-- telemetry report, issued certificates, admin tokens and the audit trail.

-- A trusted manufacturer: the anchor its IDevIDs chain to, where its MASA
-- is (an override of the IDevID's MASA URL extension) and what anchor the
-- MASA's TLS certificate chains to, and which subject field holds serials.
CREATE TABLE manufacturers (
    id            bigserial PRIMARY KEY,
    name          text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
    idevid_anchor bytea NOT NULL,          -- DER certificate
    masa_url      text,                    -- NULL: take it from the IDevID
    masa_anchor   bytea,                   -- DER certificate; NULL: system roots
    serial_field  text NOT NULL DEFAULT 'serialNumber'
                  CHECK (serial_field IN ('serialNumber', 'hardwareModuleName', 'commonName')),
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Devices the owner expects; with approval_mode 'allow-list' only these are
-- approved without an operator.
CREATE TABLE allowlist (
    manufacturer_id bigint NOT NULL REFERENCES manufacturers (id) ON DELETE CASCADE,
    serial          text NOT NULL CHECK (length(serial) BETWEEN 1 AND 128),
    note            text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (manufacturer_id, serial)
);

-- A pledge is known by its manufacturer and serial number. decision is the
-- operator's (or policy's) verdict; state is how far onboarding got.
CREATE TABLE pledges (
    id              bigserial PRIMARY KEY,
    manufacturer_id bigint NOT NULL REFERENCES manufacturers (id),
    serial          text NOT NULL,
    idevid          bytea NOT NULL,
    decision        text NOT NULL DEFAULT 'pending' CHECK (decision IN ('pending', 'approved', 'denied')),
    decided_by      text,
    decided_at      timestamptz,
    state           text NOT NULL DEFAULT 'new' CHECK (state IN (
                        'new', 'voucher-requested', 'voucher-issued', 'voucher-accepted',
                        'voucher-rejected', 'enrolled', 'enroll-failed')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (manufacturer_id, serial)
);
CREATE INDEX pledges_decision ON pledges (decision, created_at);

-- Every voucher exchange: the pledge's request, the registrar's request,
-- and the MASA's answer, kept as received (CMS bytes).
CREATE TABLE voucher_exchanges (
    id                 bigserial PRIMARY KEY,
    pledge_id          bigint NOT NULL REFERENCES pledges (id) ON DELETE CASCADE,
    pledge_request     bytea NOT NULL,
    registrar_request  bytea,
    voucher            bytea,
    nonce              text,
    outcome            text NOT NULL CHECK (outcome IN ('held', 'denied', 'issued', 'masa-pending', 'masa-refused', 'masa-unreachable', 'rejected')),
    masa_status        integer,
    reason             text NOT NULL DEFAULT '',
    replica            text NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX voucher_exchanges_pledge ON voucher_exchanges (pledge_id, created_at);

-- RFC 8995 5.7 voucher status and 5.9.4 enrollment status reports.
CREATE TABLE telemetry (
    id          bigserial PRIMARY KEY,
    pledge_id   bigint NOT NULL REFERENCES pledges (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('voucher-status', 'enroll-status')),
    status      boolean NOT NULL,
    reason      text NOT NULL DEFAULT '',
    body        jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Certificates issued through EST.
CREATE TABLE certificates (
    serial      text PRIMARY KEY,
    pledge_id   bigint NOT NULL REFERENCES pledges (id) ON DELETE CASCADE,
    operation   text NOT NULL,
    subject     text NOT NULL,
    not_before  timestamptz NOT NULL,
    not_after   timestamptz NOT NULL,
    der         bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX certificates_pledge ON certificates (pledge_id, created_at);

-- Admin API bearer tokens, stored as SHA-256 of the token.
CREATE TABLE admin_tokens (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL,
    role        text NOT NULL CHECK (role IN ('admin', 'operator', 'auditor')),
    token_hash  bytea NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

CREATE TABLE audit_events (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    action      text NOT NULL,
    subject     text NOT NULL DEFAULT '',
    detail      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_at ON audit_events (at);
