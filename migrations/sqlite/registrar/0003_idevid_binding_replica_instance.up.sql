-- The SQLite form of ../../registrar/0003_idevid_binding_replica_instance.up.sql.
ALTER TABLE voucher_exchanges ADD COLUMN idevid_sha256 blob;
ALTER TABLE replicas ADD COLUMN instance text NOT NULL DEFAULT '';
