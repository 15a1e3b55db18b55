DROP TABLE webhook_replays;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_cursors;
DROP TABLE webhook_endpoints;
DROP TABLE event_log_state;
DROP TABLE events;
DROP TABLE api_keys;
