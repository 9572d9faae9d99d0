CREATE TABLE qos_specs (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    consumer VARCHAR(36) NOT NULL,
    specs TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX qos_specs_name ON qos_specs (name);
ALTER TABLE volume_types ADD COLUMN qos_specs_id VARCHAR(36);
CREATE INDEX volume_types_qos_specs ON volume_types (qos_specs_id);
