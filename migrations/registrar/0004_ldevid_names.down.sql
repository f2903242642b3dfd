ALTER TABLE manufacturers
    DROP COLUMN ldevid_uri_template,
    DROP COLUMN ldevid_dns_template;
