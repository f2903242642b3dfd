ALTER TABLE manufacturers DROP COLUMN ldevid_uri_template;
ALTER TABLE manufacturers DROP COLUMN ldevid_dns_template;
