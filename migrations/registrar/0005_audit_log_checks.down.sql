DROP TABLE audit_log_checks;
