ALTER TABLE replicas DROP COLUMN instance;
ALTER TABLE voucher_exchanges DROP COLUMN idevid_sha256;
