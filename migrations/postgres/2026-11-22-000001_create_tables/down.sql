DROP TABLE deliveries;
DROP TABLE inbox_events;
DROP TABLE users;
