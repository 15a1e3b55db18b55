DROP TABLE request_segments;
