DROP TABLE audit_events;
DROP TABLE admin_tokens;
DROP TABLE certificates;
DROP TABLE telemetry;
DROP TABLE voucher_exchanges;
DROP TABLE pledges;
DROP TABLE allowlist;
DROP TABLE manufacturers;
