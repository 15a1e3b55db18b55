DROP TABLE user_assignments;
DROP TABLE catalog_items;
