-- Enrollment is bound to the voucher this registrar obtained (RFC 8995
-- 5.9, DESIGN decision 13): each exchange records the SHA-256 of the
-- IDevID that asked for it, so that EST can require that the latest
-- exchange of the pledge issued a voucher for the very IDevID that now
-- enrolls. Exchanges recorded before this migration have none and never
-- authorize an enrollment.
ALTER TABLE voucher_exchanges ADD COLUMN idevid_sha256 bytea;

-- Each running replica process registers with a random instance token:
-- a second process with the same replica id is refused while the first
-- heartbeats, and a replica only ever refreshes or removes its own row.
ALTER TABLE replicas ADD COLUMN instance text NOT NULL DEFAULT '';
