-- The MASA's database beside the registrar's (POSTGRES_DB). In a real
-- deployment manufacturer and owner run separate servers.
CREATE DATABASE masa;
