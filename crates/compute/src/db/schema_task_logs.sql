CREATE TABLE task_logs (
    task_name VARCHAR(255) NOT NULL,
    host VARCHAR(255) NOT NULL,
    period_beginning BIGINT NOT NULL,
    period_ending BIGINT NOT NULL,
    state VARCHAR(255) NOT NULL,
    message TEXT NOT NULL,
    task_items BIGINT NOT NULL,
    errors BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT,
    PRIMARY KEY (task_name, host, period_beginning, period_ending)
);
