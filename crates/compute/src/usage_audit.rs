//! The instance usage audit (Nova's `instance_usage_audit` periodic task
//! and `os-instance_usage_audit_log`).
//!
//! Each compute agent with `instance_usage_audit` on asks the conductor,
//! every minute, to audit its host for the last completed audit period
//! ([`AuditPeriod`], Nova's `instance_usage_audit_period`, a month by
//! default). The conductor does it once per host and period, recorded in
//! `task_logs`: `RUNNING`, then `DONE` with the number of instances the
//! host had in the period (launched before its end and not terminated
//! before its beginning, deleted or not). Nova sends a
//! `compute.instance.exists` notification per instance there; this cloud
//! has no notification bus yet, so the audit's work is the count and its
//! error count is 0.
//!
//! The log ([`Compute::audit_log`]) sums the records of one period over
//! every compute service (disabled ones too, as Nova), naming the hosts
//! that have not run.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Timelike};
use compute_agent::rpc::UsageAudit;

use crate::Compute;
use crate::db;
use crate::db::task_logs::TaskLogRow;
use crate::error::Result;

/// Nova's task name of the audit.
pub const TASK_NAME: &str = "instance_usage_audit";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditUnit {
    Hour,
    Day,
    Month,
    Year,
}

/// `instance_usage_audit_period`: `hour`, `day`, `month` or `year`,
/// optionally `@offset` (the minute, hour, day of the month or month of
/// the year the period starts at).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuditPeriod {
    pub unit: AuditUnit,
    pub offset: u32,
}

impl Default for AuditPeriod {
    /// Nova's default: `month`.
    fn default() -> Self {
        AuditPeriod {
            unit: AuditUnit::Month,
            offset: 0,
        }
    }
}

impl FromStr for AuditPeriod {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (unit, offset) = match s.split_once('@') {
            Some((u, o)) => (
                u,
                o.parse::<u32>()
                    .map_err(|_| format!("instance_usage_audit_period {s:?}: the offset must be a number"))?,
            ),
            None => (s, 0),
        };
        let (unit, max) = match unit {
            "hour" => (AuditUnit::Hour, 59),
            "day" => (AuditUnit::Day, 23),
            // Every month has a 28th.
            "month" => (AuditUnit::Month, 28),
            "year" => (AuditUnit::Year, 12),
            _ => {
                return Err(format!(
                    "instance_usage_audit_period {s:?}: must be hour, day, month or year"
                ));
            }
        };
        if offset > max {
            return Err(format!(
                "instance_usage_audit_period {s:?}: the offset is at most {max}"
            ));
        }
        Ok(AuditPeriod { unit, offset })
    }
}

fn date(year: i32, month: u32, day: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(year, month, day)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default()
}

/// The month before `(year, month)`.
fn previous_month(year: i32, month: u32) -> (i32, u32) {
    if month <= 1 { (year - 1, 12) } else { (year, month - 1) }
}

impl AuditPeriod {
    /// The last period that ended before `before` (Nova's
    /// `utils.last_completed_audit_period`), as `(beginning, ending)`.
    pub fn last_completed(&self, before: NaiveDateTime) -> (NaiveDateTime, NaiveDateTime) {
        match self.unit {
            AuditUnit::Month => {
                let day = self.offset.max(1);
                let mut end = date(before.year(), before.month(), day);
                if end >= before {
                    let (y, m) = previous_month(before.year(), before.month());
                    end = date(y, m, day);
                }
                let (y, m) = previous_month(end.year(), end.month());
                (date(y, m, day), end)
            }
            AuditUnit::Year => {
                let month = self.offset.max(1);
                let end = date(before.year(), month, 1);
                if end >= before {
                    (date(before.year() - 2, month, 1), date(before.year() - 1, month, 1))
                } else {
                    (date(before.year() - 1, month, 1), end)
                }
            }
            AuditUnit::Day => {
                let mut end = before.date().and_hms_opt(self.offset, 0, 0).unwrap_or_default();
                if end >= before {
                    end -= Duration::days(1);
                }
                (end - Duration::days(1), end)
            }
            AuditUnit::Hour => {
                let mut end = before
                    .with_minute(self.offset)
                    .and_then(|t| t.with_second(0))
                    .and_then(|t| t.with_nanosecond(0))
                    .unwrap_or_default();
                if end >= before {
                    end -= Duration::hours(1);
                }
                (end - Duration::hours(1), end)
            }
        }
    }
}

/// One host's record in the log.
#[derive(Clone, Debug, PartialEq)]
pub struct HostAudit {
    pub state: String,
    pub instances: i64,
    pub errors: i64,
    pub message: String,
}

/// The audit of one period over every compute host (Nova's
/// `_get_audit_task_logs`).
#[derive(Clone, Debug, PartialEq)]
pub struct AuditLog {
    pub period_beginning: NaiveDateTime,
    pub period_ending: NaiveDateTime,
    pub num_hosts: usize,
    pub num_hosts_done: usize,
    pub num_hosts_running: usize,
    pub hosts_not_run: Vec<String>,
    pub total_instances: i64,
    pub total_errors: i64,
    /// `ALL hosts done. 0 errors.` or `1 of 2 hosts done. 0 errors.`
    pub overall_status: String,
    pub log: BTreeMap<String, HostAudit>,
}

fn micros(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp_micros()
}

fn now_naive() -> NaiveDateTime {
    chrono::Utc::now().naive_utc()
}

impl Compute {
    /// The log of the last period completed before `before` (now when
    /// `None`).
    pub async fn audit_log(&self, before: Option<NaiveDateTime>) -> Result<AuditLog> {
        let (begin, end) = self
            .config
            .instance_usage_audit_period
            .last_completed(before.unwrap_or_else(now_naive));
        let logs = db::task_logs::in_period(&self.db, TASK_NAME, micros(begin), micros(end)).await?;
        let hosts: std::collections::BTreeSet<String> = db::services::services(&self.db)
            .await?
            .into_iter()
            .filter(|s| s.binary == "nova-compute")
            .map(|s| s.host)
            .collect();
        let done = logs.iter().filter(|l| l.state == "DONE").count();
        let total_errors = logs.iter().map(|l| l.errors).sum();
        let hosts_not_run: Vec<String> = hosts
            .iter()
            .filter(|h| !logs.iter().any(|l| &l.host == *h))
            .cloned()
            .collect();
        let overall_status = format!(
            "{} hosts done. {total_errors} errors.",
            if done == hosts.len() {
                "ALL".to_owned()
            } else {
                format!("{done} of {}", hosts.len())
            }
        );
        Ok(AuditLog {
            period_beginning: begin,
            period_ending: end,
            num_hosts: hosts.len(),
            num_hosts_done: done,
            num_hosts_running: logs.iter().filter(|l| l.state == "RUNNING").count(),
            hosts_not_run,
            total_instances: logs.iter().map(|l| l.task_items).sum(),
            total_errors,
            overall_status,
            log: logs
                .into_iter()
                .map(|l| {
                    (
                        l.host,
                        HostAudit {
                            state: l.state,
                            instances: l.task_items,
                            errors: l.errors,
                            message: l.message,
                        },
                    )
                })
                .collect(),
        })
    }

    /// Audits `host` for the last completed period unless that is done
    /// already (the conductor's `instance_usage_audit`).
    pub async fn run_usage_audit(&self, host: &str) -> Result<UsageAudit> {
        self.run_usage_audit_at(host, now_naive()).await
    }

    /// [`Compute::run_usage_audit`] as if it were `now` (UTC).
    pub async fn run_usage_audit_at(&self, host: &str, now: NaiveDateTime) -> Result<UsageAudit> {
        let (begin, end) = self.config.instance_usage_audit_period.last_completed(now);
        let (b, e) = (micros(begin), micros(end));
        let mut outcome = UsageAudit {
            period_beginning: b,
            period_ending: e,
            ran: false,
            instances: 0,
        };
        if db::task_logs::get(&self.db, TASK_NAME, host, b, e).await?.is_some() {
            return Ok(outcome);
        }
        let started = std::time::Instant::now();
        let n = db::usage::count_on_host(&self.db, host, b, e).await?;
        let mut row = TaskLogRow {
            task_name: TASK_NAME.to_owned(),
            host: host.to_owned(),
            period_beginning: b,
            period_ending: e,
            state: "RUNNING".to_owned(),
            message: "Instance usage audit started...".to_owned(),
            task_items: n,
            errors: 0,
        };
        if !db::task_logs::begin(&self.db, &row, db::now()).await? {
            // Another call for this host got there first.
            return Ok(outcome);
        }
        tracing::info!(host, instances = n, period_beginning = %begin, period_ending = %end,
            "running instance usage audit");
        row.message = format!(
            "Instance usage audit ran for host {host}, {n} instances in {} seconds.",
            started.elapsed().as_secs_f64()
        );
        db::task_logs::end(&self.db, &row, db::now()).await?;
        outcome.ran = true;
        outcome.instances = n.max(0) as u64;
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    fn period(p: &str, before: &str) -> (String, String) {
        let (b, e) = p.parse::<AuditPeriod>().unwrap().last_completed(t(before));
        (b.to_string(), e.to_string())
    }

    fn pair(b: &str, e: &str) -> (String, String) {
        (b.to_owned(), e.to_owned())
    }

    #[test]
    fn the_last_completed_period_is_novas() {
        assert_eq!(
            period("month", "2026-12-03 18:00:00"),
            pair("2026-11-01 00:00:00", "2026-12-01 00:00:00")
        );
        // A period that ends exactly now is not completed.
        assert_eq!(
            period("month", "2026-12-01 00:00:00"),
            pair("2026-10-01 00:00:00", "2026-11-01 00:00:00")
        );
        assert_eq!(
            period("month", "2026-01-15 00:00:00"),
            pair("2025-12-01 00:00:00", "2026-01-01 00:00:00")
        );
        assert_eq!(
            period("month@15", "2026-01-10 00:00:00"),
            pair("2025-11-15 00:00:00", "2025-12-15 00:00:00")
        );
        assert_eq!(
            period("year", "2026-06-01 00:00:00"),
            pair("2025-01-01 00:00:00", "2026-01-01 00:00:00")
        );
        assert_eq!(
            period("year@7", "2026-06-01 00:00:00"),
            pair("2024-07-01 00:00:00", "2025-07-01 00:00:00")
        );
        assert_eq!(
            period("day", "2026-03-01 10:00:00"),
            pair("2026-02-28 00:00:00", "2026-03-01 00:00:00")
        );
        assert_eq!(
            period("day@12", "2026-03-01 10:00:00"),
            pair("2026-02-27 12:00:00", "2026-02-28 12:00:00")
        );
        assert_eq!(
            period("hour", "2026-03-01 00:30:00"),
            pair("2026-02-28 23:00:00", "2026-03-01 00:00:00")
        );
        assert_eq!(
            period("hour@45", "2026-03-01 00:30:00"),
            pair("2026-02-28 22:45:00", "2026-02-28 23:45:00")
        );
    }

    #[test]
    fn bad_periods_are_refused() {
        for bad in ["week", "month@x", "month@31", "hour@60", "year@13", ""] {
            assert!(bad.parse::<AuditPeriod>().is_err(), "{bad}");
        }
        assert_eq!("month".parse::<AuditPeriod>().unwrap(), AuditPeriod::default());
    }
}
