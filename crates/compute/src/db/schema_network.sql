CREATE TABLE instance_info_caches (
    instance_uuid VARCHAR(36) NOT NULL PRIMARY KEY,
    network_info TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
