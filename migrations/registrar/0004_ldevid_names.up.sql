-- The names of the domain certificates (LDevIDs) a manufacturer's pledges
-- get (RFC 8995 5.9.2, DESIGN decision 13): by default the subject
-- carries the serial number the registrar verified and there is no
-- subjectAltName; an operator may add a DNS name and/or a URI derived from
-- the serial by a template (Go text/template over .SerialNumber, checked
-- by the registrar before it is stored). NULL: no such name.
ALTER TABLE manufacturers
    ADD COLUMN ldevid_dns_template text CHECK (length(ldevid_dns_template) BETWEEN 1 AND 500),
    ADD COLUMN ldevid_uri_template text CHECK (length(ldevid_uri_template) BETWEEN 1 AND 500);
