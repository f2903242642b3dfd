-- The SQLite form of ../../registrar/0004_ldevid_names.up.sql.
ALTER TABLE manufacturers ADD COLUMN ldevid_dns_template text CHECK (length(ldevid_dns_template) BETWEEN 1 AND 500);
ALTER TABLE manufacturers ADD COLUMN ldevid_uri_template text CHECK (length(ldevid_uri_template) BETWEEN 1 AND 500);
