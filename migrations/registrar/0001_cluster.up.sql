-- Replica registry and ATLS key-export state shared by all registrar
-- replicas (DESIGN decisions 2 and 3).

-- Every running replica registers its internal listener and heartbeats.
-- A replica whose heartbeat is older than the configured timeout is
-- considered gone: its in-handshake sessions are lost (clients start over).
CREATE TABLE replicas (
    id            text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 16),
    internal_url  text NOT NULL,
    started_at    timestamptz NOT NULL,
    heartbeat_at  timestamptz NOT NULL
);

-- Server connection IDs (ATLS profile 4.3): unique across every live OSCORE
-- and COSE context of the deployment. A CID is reserved here before its
-- context exists and released with it.
CREATE TABLE atls_cids (
    cid         bytea PRIMARY KEY CHECK (length(cid) BETWEEN 1 AND 7),
    replica     text NOT NULL,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX atls_cids_expires ON atls_cids (expires_at);

-- Exported OSCORE/COSE security contexts, keyed by the server's Recipient
-- ID (its CID). Master secret and salt are sealed with AES-256-GCM under the
-- deployment's context key (secret_sealed = nonce || ciphertext); the
-- replay window (RFC 8613 7.4, 32 entries) is the highest Partial IV seen
-- and a bitmap of the 32 values at and below it.
CREATE TABLE atls_contexts (
    recipient_id     bytea PRIMARY KEY REFERENCES atls_cids (cid) ON DELETE CASCADE,
    sender_id        bytea NOT NULL,
    protocol         text NOT NULL CHECK (protocol IN ('atls-oscore', 'atls-cose')),
    tls_suite        integer NOT NULL,
    aead             integer NOT NULL,
    hkdf             text NOT NULL,
    secret_sealed    bytea NOT NULL,
    peer_chain       bytea[] NOT NULL DEFAULT '{}',
    local_cert       bytea,
    channel_binding  bytea,
    created_at       timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    replay_high      bigint NOT NULL DEFAULT -1,
    replay_bitmap    bigint NOT NULL DEFAULT 0
);
CREATE INDEX atls_contexts_expires ON atls_contexts (expires_at);
