//! test-cloud
