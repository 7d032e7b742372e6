//! Push login approvals: protocol types and backends.
