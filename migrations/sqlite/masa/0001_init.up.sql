-- The SQLite form of ../../masa/0001_init.up.sql (the embedded store):
-- same tables, columns and checks; timestamps are fixed-width UTC text
-- (internal/sqldb.TimeFormat).

CREATE TABLE owners (
    id              integer PRIMARY KEY AUTOINCREMENT,
    name            text NOT NULL,
    ca_cert         blob NOT NULL,
    ca_sha256       blob NOT NULL UNIQUE,
    domain_id       text NOT NULL,
    created_at      text NOT NULL
);

CREATE TABLE devices (
    serial_number   text PRIMARY KEY CHECK (serial_number <> '' AND length(serial_number) <= 128),
    product         text NOT NULL DEFAULT '' CHECK (length(product) <= 128),
    idevid          blob,
    owner_id        integer REFERENCES owners (id),
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    created_at      text NOT NULL,
    updated_at      text NOT NULL
);
CREATE INDEX devices_owner_idx ON devices (owner_id, serial_number);
CREATE INDEX devices_product_idx ON devices (product, serial_number);

CREATE TABLE policies (
    scope                 text NOT NULL CHECK (scope IN ('device', 'product')),
    subject               text NOT NULL,
    nonceless_allowed     integer NOT NULL DEFAULT 0 CHECK (nonceless_allowed IN (0, 1)),
    max_lifetime_seconds  integer NOT NULL DEFAULT 0 CHECK (max_lifetime_seconds >= 0),
    trust_on_first_use    integer NOT NULL DEFAULT 0 CHECK (trust_on_first_use IN (0, 1)),
    updated_at            text NOT NULL,
    PRIMARY KEY (scope, subject)
);

CREATE TABLE vouchers (
    id                  integer PRIMARY KEY AUTOINCREMENT,
    serial_number       text NOT NULL REFERENCES devices (serial_number),
    owner_id            integer NOT NULL REFERENCES owners (id),
    domain_id           text NOT NULL,
    request_sha256      blob NOT NULL UNIQUE,
    nonce               text,
    assertion           text NOT NULL CHECK (assertion IN ('verified', 'logged', 'proximity')),
    expires_on          text,
    registrar_subject   text NOT NULL,
    voucher             blob NOT NULL,
    issued_at           text NOT NULL
);
CREATE INDEX vouchers_serial_idx ON vouchers (serial_number, id);

CREATE TABLE audit_events (
    id              integer PRIMARY KEY AUTOINCREMENT,
    at              text NOT NULL,
    actor           text NOT NULL,
    action          text NOT NULL,
    serial_number   text,
    detail          text NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_serial_idx ON audit_events (serial_number, id);

CREATE TABLE tokens (
    id              integer PRIMARY KEY AUTOINCREMENT,
    name            text NOT NULL,
    role            text NOT NULL CHECK (role IN ('admin', 'factory', 'sales', 'auditor')),
    secret_sha256   blob NOT NULL UNIQUE,
    created_at      text NOT NULL,
    revoked_at      text
);
