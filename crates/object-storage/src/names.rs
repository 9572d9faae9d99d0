//! Names and timestamps: what a valid account, container and object name is,
//! and Swift's timestamps (seconds with five decimals, always increasing).

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::SwiftError;

pub const MAX_ACCOUNT_NAME: usize = 256;
pub const MAX_CONTAINER_NAME: usize = 256;
pub const MAX_OBJECT_NAME: usize = 1024;
/// The prefix of every account (`reseller_prefix` in Swift's keystoneauth).
pub const RESELLER_PREFIX: &str = "AUTH_";

/// A Swift timestamp in units of 10 µs since the epoch; printed as
/// `1700000000.12345` (`X-Timestamp`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub const UNITS_PER_SEC: i64 = 100_000;

    pub fn from_secs(secs: i64) -> Timestamp {
        Timestamp(secs * Self::UNITS_PER_SEC)
    }

    /// `1700000000.12345`
    pub fn normal(self) -> String {
        format!(
            "{:010}.{:05}",
            self.0 / Self::UNITS_PER_SEC,
            self.0 % Self::UNITS_PER_SEC
        )
    }

    /// Parses the normal form (and any number of decimals, as Swift does).
    pub fn parse(s: &str) -> Option<Timestamp> {
        let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
        if secs.is_empty() || !secs.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let secs: i64 = secs.parse().ok()?;
        let mut f = frac.chars().take(5).collect::<String>();
        while f.len() < 5 {
            f.push('0');
        }
        let frac: i64 = f.parse().ok()?;
        secs.checked_mul(Self::UNITS_PER_SEC)?.checked_add(frac).map(Timestamp)
    }

    /// Whole seconds, rounded up: what `Last-Modified` and the conditional
    /// headers compare (Swift does the same).
    pub fn ceil_secs(self) -> i64 {
        (self.0 + Self::UNITS_PER_SEC - 1) / Self::UNITS_PER_SEC
    }

    pub fn http_date(self) -> String {
        httpdate::fmt_http_date(UNIX_EPOCH + std::time::Duration::from_secs(self.ceil_secs().max(0) as u64))
    }

    /// `2024-01-02T03:04:05.123450` as listings show `last_modified`.
    pub fn iso(self) -> String {
        let secs = self.0.div_euclid(Self::UNITS_PER_SEC);
        let micros = self.0.rem_euclid(Self::UNITS_PER_SEC) * 10;
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        )
    }
}

/// Howard Hinnant's days → (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Hands out timestamps that never repeat nor go backwards in this process,
/// so that a PUT followed at once by a DELETE is ordered.
#[derive(Debug, Default)]
pub struct Clock {
    last: AtomicI64,
}

impl Clock {
    pub fn now(&self) -> Timestamp {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| (d.as_micros() / 10) as i64)
            .unwrap_or(0);
        let mut last = self.last.load(Ordering::Acquire);
        loop {
            let next = wall.max(last + 1);
            match self
                .last
                .compare_exchange(last, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Timestamp(next),
                Err(seen) => last = seen,
            }
        }
    }
}

pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The project id behind an account name, if it has the reseller prefix.
pub fn account_project(account: &str) -> Option<&str> {
    account.strip_prefix(RESELLER_PREFIX).filter(|p| !p.is_empty())
}

pub fn check_account(name: &str) -> Result<(), SwiftError> {
    if name.len() > MAX_ACCOUNT_NAME {
        return Err(SwiftError::BadRequest(format!(
            "Account name length of {} longer than {MAX_ACCOUNT_NAME}",
            name.len()
        )));
    }
    Ok(())
}

pub fn check_container(name: &str) -> Result<(), SwiftError> {
    if name.len() > MAX_CONTAINER_NAME {
        return Err(SwiftError::BadRequest(format!(
            "Container name length of {} longer than {MAX_CONTAINER_NAME}",
            name.len()
        )));
    }
    if name == "." || name == ".." {
        return Err(SwiftError::BadRequest("Invalid container name".into()));
    }
    Ok(())
}

pub fn check_object(name: &str) -> Result<(), SwiftError> {
    if name.len() > MAX_OBJECT_NAME {
        return Err(SwiftError::BadRequest(format!(
            "Object name length of {} longer than {MAX_OBJECT_NAME}",
            name.len()
        )));
    }
    if name.split('/').any(|seg| seg == "." || seg == "..") {
        return Err(SwiftError::BadRequest(
            "Object name may not contain the path segments '.' or '..'".into(),
        ));
    }
    Ok(())
}

/// Decodes one percent-encoded path segment; Swift answers 412 to names that
/// are not UTF-8 or contain NUL.
pub fn decode_segment(raw: &str) -> Result<String, SwiftError> {
    let s = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| SwiftError::PreconditionFailed("Invalid UTF8 or contains NULL".into()))?;
    if s.contains('\0') {
        return Err(SwiftError::PreconditionFailed("Invalid UTF8 or contains NULL".into()));
    }
    Ok(s.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_print_and_parse() {
        let t = Timestamp(170_000_000_012_345);
        assert_eq!(t.normal(), "1700000000.12345");
        assert_eq!(Timestamp::parse("1700000000.12345"), Some(t));
        assert_eq!(Timestamp::parse("1700000000.1"), Some(Timestamp(170_000_000_010_000)));
        assert_eq!(
            Timestamp::parse("1700000000"),
            Some(Timestamp::from_secs(1_700_000_000))
        );
        assert_eq!(Timestamp::parse("x"), None);
        assert_eq!(Timestamp::parse("-1"), None);
        assert_eq!(t.ceil_secs(), 1_700_000_001);
        assert_eq!(Timestamp::from_secs(5).ceil_secs(), 5);
        assert_eq!(t.iso(), "2023-11-14T22:13:20.123450");
        assert_eq!(Timestamp::from_secs(0).http_date(), "Thu, 01 Jan 1970 00:00:00 GMT");
    }

    #[test]
    fn clock_never_repeats() {
        let c = Clock::default();
        let a = c.now();
        let b = c.now();
        assert!(b > a);
    }

    #[test]
    fn names_are_checked() {
        assert!(check_container(&"c".repeat(256)).is_ok());
        assert!(check_container(&"c".repeat(257)).is_err());
        assert!(check_object(&"o".repeat(1024)).is_ok());
        assert!(check_object(&"o".repeat(1025)).is_err());
        assert!(check_object("a/../b").is_err());
        assert!(check_object("a/..b").is_ok());
        assert!(matches!(
            decode_segment("a%00b"),
            Err(SwiftError::PreconditionFailed(_))
        ));
        assert!(matches!(decode_segment("%ff"), Err(SwiftError::PreconditionFailed(_))));
        assert_eq!(decode_segment("a%20b").unwrap(), "a b");
        assert_eq!(account_project("AUTH_abc"), Some("abc"));
        assert_eq!(account_project("abc"), None);
    }
}
