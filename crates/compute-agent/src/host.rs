//! Facts about the machine the agent runs on, whatever the driver.

/// The host's uptime line as `uptime` prints it (` 16:04:59 up 2 days,
/// 3:04,  load average: 0.52, 0.58, 0.59`): what Nova's libvirt driver
/// answers `os-hypervisors/{id}/uptime` with. Read from `/proc`.
pub fn uptime() -> std::io::Result<String> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("unreadable {what}"));
    let seconds: f64 = std::fs::read_to_string("/proc/uptime")?
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("/proc/uptime"))?;
    let loadavg = std::fs::read_to_string("/proc/loadavg")?;
    let load: Vec<&str> = loadavg.split_whitespace().take(3).collect();
    if load.len() < 3 {
        return Err(bad("/proc/loadavg"));
    }
    let now = chrono::Utc::now().format("%H:%M:%S");
    Ok(format!(
        " {now} up {},  load average: {}, {}, {}",
        duration(seconds as u64),
        load[0],
        load[1],
        load[2]
    ))
}

/// `uptime`'s way of writing a duration: `5 min`, `3:04`, `2 days, 3:04`.
fn duration(seconds: u64) -> String {
    let (days, hours, minutes) = (seconds / 86_400, seconds % 86_400 / 3600, seconds % 3600 / 60);
    let clock = if hours == 0 {
        format!("{minutes} min")
    } else {
        format!("{hours}:{minutes:02}")
    };
    match days {
        0 => clock,
        1 => format!("1 day, {clock}"),
        d => format!("{d} days, {clock}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_uptime() {
        assert_eq!(duration(300), "5 min");
        assert_eq!(duration(3 * 3600 + 4 * 60), "3:04");
        assert_eq!(duration(2 * 86_400 + 3 * 3600 + 4 * 60), "2 days, 3:04");
        assert_eq!(duration(86_400 + 60), "1 day, 1 min");
    }

    #[test]
    fn this_host_has_an_uptime() {
        let line = uptime().unwrap();
        assert!(line.contains(" up ") && line.contains("load average: "), "{line}");
    }
}
