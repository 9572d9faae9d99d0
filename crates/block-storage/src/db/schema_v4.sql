CREATE TABLE volume_transfers (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    volume_id VARCHAR(36) NOT NULL,
    name VARCHAR(255),
    salt VARCHAR(16) NOT NULL,
    crypt_hash VARCHAR(64) NOT NULL,
    source_project_id VARCHAR(64) NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX volume_transfers_volume ON volume_transfers (volume_id);
CREATE INDEX volume_transfers_project ON volume_transfers (source_project_id);
