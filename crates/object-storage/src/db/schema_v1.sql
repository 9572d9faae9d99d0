CREATE TABLE swift_accounts (
    name VARCHAR(255) NOT NULL PRIMARY KEY,
    created BIGINT NOT NULL,
    put_timestamp BIGINT NOT NULL,
    meta TEXT NOT NULL
);
CREATE TABLE swift_containers (
    account VARCHAR(255) NOT NULL,
    name VARCHAR(255) NOT NULL,
    created BIGINT NOT NULL,
    put_timestamp BIGINT NOT NULL,
    object_count BIGINT NOT NULL,
    bytes_used BIGINT NOT NULL,
    meta TEXT NOT NULL,
    PRIMARY KEY (account, name)
);
CREATE TABLE swift_objects (
    account VARCHAR(255) NOT NULL,
    container VARCHAR(255) NOT NULL,
    name VARCHAR(1024) NOT NULL,
    ts BIGINT NOT NULL,
    deleted BIGINT NOT NULL,
    size BIGINT NOT NULL,
    etag VARCHAR(64) NOT NULL,
    content_type VARCHAR(1024) NOT NULL,
    delete_at BIGINT,
    PRIMARY KEY (account, container, name)
);
CREATE INDEX swift_objects_delete_at ON swift_objects (delete_at);
