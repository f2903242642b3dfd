-- MASA schema, version 1: devices, owners, voucher policies, issued
-- vouchers, operator audit events and API tokens.

-- An owner is a domain identified by its domain CA certificate; the voucher
-- pins that certificate (RFC 8366 pinned-domain-cert).
CREATE TABLE owners (
    id              bigserial PRIMARY KEY,
    name            text NOT NULL,
    ca_cert         bytea NOT NULL,
    ca_sha256       bytea NOT NULL UNIQUE,
    domain_id       text NOT NULL,
    created_at      timestamptz NOT NULL
);

CREATE TABLE devices (
    serial_number   text PRIMARY KEY CHECK (serial_number <> '' AND length(serial_number) <= 128),
    product         text NOT NULL DEFAULT '' CHECK (length(product) <= 128),
    idevid          bytea,
    owner_id        bigint REFERENCES owners (id),
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX devices_owner_idx ON devices (owner_id, serial_number);
CREATE INDEX devices_product_idx ON devices (product, serial_number);

-- Voucher policy for one device (scope 'device') or every device of a
-- product (scope 'product'); the device's row wins over its product's.
CREATE TABLE policies (
    scope                 text NOT NULL CHECK (scope IN ('device', 'product')),
    subject               text NOT NULL,
    nonceless_allowed     boolean NOT NULL DEFAULT false,
    max_lifetime_seconds  bigint NOT NULL DEFAULT 0 CHECK (max_lifetime_seconds >= 0),
    trust_on_first_use    boolean NOT NULL DEFAULT false,
    updated_at            timestamptz NOT NULL,
    PRIMARY KEY (scope, subject)
);

-- Every voucher issued (RFC 8995 section 5.8: the audit log is built from it).
CREATE TABLE vouchers (
    id                  bigserial PRIMARY KEY,
    serial_number       text NOT NULL REFERENCES devices (serial_number),
    owner_id            bigint NOT NULL REFERENCES owners (id),
    domain_id           text NOT NULL,
    request_sha256      bytea NOT NULL UNIQUE,
    nonce               text,
    assertion           text NOT NULL CHECK (assertion IN ('verified', 'logged', 'proximity')),
    expires_on          timestamptz,
    registrar_subject   text NOT NULL,
    voucher             bytea NOT NULL,
    issued_at           timestamptz NOT NULL
);
CREATE INDEX vouchers_serial_idx ON vouchers (serial_number, id);

-- Operator and factory actions (imports, ownership changes, policy, tokens).
CREATE TABLE audit_events (
    id              bigserial PRIMARY KEY,
    at              timestamptz NOT NULL,
    actor           text NOT NULL,
    action          text NOT NULL,
    serial_number   text,
    detail          jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_events_serial_idx ON audit_events (serial_number, id);

-- Admin API bearer tokens, stored as SHA-256 of the secret.
CREATE TABLE tokens (
    id              bigserial PRIMARY KEY,
    name            text NOT NULL,
    role            text NOT NULL CHECK (role IN ('admin', 'factory', 'sales', 'auditor')),
    secret_sha256   bytea NOT NULL UNIQUE,
    created_at      timestamptz NOT NULL,
    revoked_at      timestamptz
);
