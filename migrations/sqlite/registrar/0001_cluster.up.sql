-- The SQLite form of ../../registrar/0001_cluster.up.sql (the embedded,
-- single-registrar store): same tables, columns and checks; timestamps
-- are fixed-width UTC text (internal/sqldb.TimeFormat), arrays JSON text.

CREATE TABLE replicas (
    id            text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 16),
    internal_url  text NOT NULL,
    started_at    text NOT NULL,
    heartbeat_at  text NOT NULL
);

CREATE TABLE atls_cids (
    cid         blob PRIMARY KEY CHECK (length(cid) BETWEEN 1 AND 7),
    replica     text NOT NULL,
    expires_at  text NOT NULL
);
CREATE INDEX atls_cids_expires ON atls_cids (expires_at);

CREATE TABLE atls_contexts (
    recipient_id     blob PRIMARY KEY REFERENCES atls_cids (cid) ON DELETE CASCADE,
    sender_id        blob NOT NULL,
    protocol         text NOT NULL CHECK (protocol IN ('atls-oscore', 'atls-cose')),
    tls_suite        integer NOT NULL,
    aead             integer NOT NULL,
    hkdf             text NOT NULL,
    secret_sealed    blob NOT NULL,
    peer_chain       text NOT NULL DEFAULT '[]', -- JSON array of base64 DER
    local_cert       blob,
    channel_binding  blob,
    created_at       text NOT NULL,
    expires_at       text NOT NULL,
    replay_high      integer NOT NULL DEFAULT -1,
    replay_bitmap    integer NOT NULL DEFAULT 0
);
CREATE INDEX atls_contexts_expires ON atls_contexts (expires_at);
