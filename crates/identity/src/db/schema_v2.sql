ALTER TABLE application_credentials ADD COLUMN expires_at_micros BIGINT;
