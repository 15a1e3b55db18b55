DROP TABLE tenant_hourly;
DROP TABLE request_log;
