DROP TABLE tokens;
DROP TABLE audit_events;
DROP TABLE vouchers;
DROP TABLE policies;
DROP TABLE devices;
DROP TABLE owners;
