//! What the data-plane tests share: when they can run, and the tag that
//! marks everything one test makes so that its [`Tagged`] guard can find
//! and remove it all, passed or failed.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use network_agent::host;

/// Why the tests cannot run here (not root, or one of `programs` is
/// missing; `packages` names the Debian packages that bring them).
pub fn skip_reason(programs: &[&str], packages: &str) -> Option<String> {
    let uid = std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(u32::MAX);
    if uid != 0 {
        return Some("not root".to_owned());
    }
    programs
        .iter()
        .find(|p| find_program(p).is_none())
        .map(|p| format!("`{p}` not found (Debian: {packages})"))
}

pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain(["/usr/sbin", "/sbin"])
        .map(|dir| Path::new(dir).join(name))
        .find(|p| p.is_file())
}

/// Returns from the test, saying why, when it cannot run here.
#[macro_export]
macro_rules! skip_unless_able {
    ($programs:expr, $packages:expr) => {
        if let Some(reason) = common::skip_reason(&$programs, $packages) {
            eprintln!("skipping: {reason}");
            return;
        }
    };
}

/// One test's kernel objects: every name it makes is one of `prefixes`
/// followed by `tag`. Dropping it kills the processes carrying the tag or
/// living in its namespaces, deletes the links inside those namespaces and
/// its links in the root namespace, then the namespaces — synchronously,
/// so it also runs when an assertion unwinds.
pub struct Tagged {
    pub tag: String,
    prefixes: &'static [&'static str],
}

impl Tagged {
    pub fn new(tag: String, prefixes: &'static [&'static str]) -> Tagged {
        Tagged { tag, prefixes }
    }

    /// A resource id sharing the tag: names made from it are ours.
    pub fn id(&self) -> String {
        let fresh = uuid::Uuid::new_v4().to_string();
        format!("{}{}", self.tag, &fresh[self.tag.len()..])
    }

    pub fn ours(&self, name: &str) -> bool {
        self.prefixes
            .iter()
            .any(|p| name.strip_prefix(p).is_some_and(|rest| rest.starts_with(&self.tag)))
    }

    /// The live processes whose command line carries the tag.
    pub fn processes(&self) -> Vec<(u32, Vec<String>)> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|p| p.parse::<u32>().ok()) else {
                continue;
            };
            if let Some(cmdline) = host::process_cmdline(pid)
                && cmdline.iter().any(|a| a.contains(&self.tag))
            {
                out.push((pid, cmdline));
            }
        }
        out
    }

    /// Our namespaces and root-namespace interfaces that exist, sorted.
    pub async fn leftovers(&self) -> Vec<String> {
        let mut out: Vec<String> = host::netns_list().await.unwrap();
        out.extend(host::links(None, "").await.unwrap().into_iter().map(|l| l.name));
        out.retain(|n| self.ours(n));
        out.sort();
        out
    }
}

impl Drop for Tagged {
    fn drop(&mut self) {
        let run = |args: &[&str]| {
            Command::new("ip")
                .args(args)
                .output()
                .map(|o| o.stdout)
                .unwrap_or_default()
        };
        let namespaces: Vec<String> = String::from_utf8_lossy(&run(&["netns", "list"]))
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|n| self.ours(n))
            .map(str::to_owned)
            .collect();
        let mut pids: Vec<u32> = self.processes().into_iter().map(|(pid, _)| pid).collect();
        for ns in &namespaces {
            let listed = String::from_utf8_lossy(&run(&["netns", "pids", ns])).into_owned();
            pids.extend(listed.split_whitespace().filter_map(|p| p.parse::<u32>().ok()));
        }
        for pid in &pids {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).output();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while pids.iter().any(|p| host::process_cmdline(*p).is_some()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let link_names = |listing: Vec<u8>| -> Vec<String> {
            String::from_utf8_lossy(&listing)
                .lines()
                .filter_map(|l| l.split(':').nth(1))
                .map(|n| n.trim().split('@').next().unwrap_or_default().to_owned())
                .collect()
        };
        // Links inside our namespaces first (veths' root ends go with
        // them), then whatever of ours is in the root namespace.
        for ns in &namespaces {
            for name in link_names(run(&["-n", ns, "-o", "link", "show"])) {
                if name != "lo" {
                    run(&["-n", ns, "link", "delete", "dev", &name]);
                }
            }
        }
        for name in link_names(run(&["-o", "link", "show"])) {
            if self.ours(&name) {
                run(&["link", "delete", "dev", &name]);
            }
        }
        for ns in &namespaces {
            run(&["netns", "delete", ns]);
        }
    }
}
