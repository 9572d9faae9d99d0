CREATE TABLE agents (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    agent_type VARCHAR(255) NOT NULL,
    binary_name VARCHAR(255) NOT NULL,
    topic VARCHAR(255) NOT NULL,
    host VARCHAR(255) NOT NULL,
    admin_state_up BIGINT NOT NULL,
    description VARCHAR(255) NOT NULL,
    configurations TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    heartbeat_timestamp BIGINT NOT NULL,
    CONSTRAINT uniq_agents0agent_type0host UNIQUE (agent_type, host)
);
