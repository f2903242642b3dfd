DROP TABLE atls_contexts;
DROP TABLE atls_cids;
DROP TABLE replicas;
