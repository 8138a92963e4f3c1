//! static-router's files and life cycle against hostile surroundings (issue 16), in network
//! namespaces: PID files (another live daemon, planted symbolic links), signals during
//! start-up, a reload whose file is gone, an include of a FIFO.
#![cfg(target_os = "linux")]

mod support;

use std::time::Duration;

use nix::sys::signal::Signal;
use support::static_router::{start, Daemon};
use support::*;

impl Daemon {
    fn wait_ready(&mut self) {
        self.wait_ready_within(Duration::from_secs(20));
    }

    /// Waits until the process catches SIGHUP and SIGTERM (its handlers are installed).
    fn wait_handlers(&self) {
        let status = format!("/proc/{}/status", self.pid());
        let ok = wait_until(Duration::from_secs(10), || {
            std::fs::read_to_string(&status)
                .ok()
                .and_then(|s| {
                    let l = s.lines().find(|l| l.starts_with("SigCgt:"))?.to_string();
                    u64::from_str_radix(l[7..].trim(), 16).ok()
                })
                .is_some_and(|mask| mask & (1 << 0) != 0 && mask & (1 << 14) != 0)
        });
        assert!(ok, "no signal handlers:\n{}", self.proc.output());
    }

    fn wait_log(&self, what: &str) -> bool {
        wait_until(Duration::from_secs(20), || {
            self.proc.output().contains(what)
        })
    }
}

fn routes(net: &Netns) -> usize {
    net.proc_net("ip_mr_cache")
        .lines()
        .count()
        .saturating_sub(1)
}

#[test]
fn a_pid_file_naming_a_live_process_is_already_running_exit_69() {
    if !require_netns("a_pid_file_naming_a_live_process_is_already_running_exit_69") {
        return;
    }
    let net = Line::new("lr");
    let dir = TempDir::new("lr");
    std::fs::write(dir.path("a.conf"), "phyint r0 enable\n").unwrap();
    // A live process that is not this daemon.
    let mut other = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .unwrap();
    std::fs::write(dir.path("a.pid"), format!("{}\n", other.id())).unwrap();
    let mut d = start(&net.rtr, &dir, "a", &[]);
    let code = d.proc.wait_exit(Duration::from_secs(20));
    let out = d.proc.output();
    assert_eq!(code, Some(69), "{out}");
    assert!(
        out.contains(&format!("already running as PID {}", other.id())),
        "{out}"
    );
    assert_eq!(
        std::fs::read_to_string(&d.pidfile).unwrap().trim(),
        other.id().to_string(),
        "the other process's PID file is left alone"
    );
    assert!(!d.socket.exists(), "no control socket was taken");
    let _ = other.kill();
    let _ = other.wait();
    // Its process gone, the file is stale: the daemon starts.
    let mut d = start(&net.rtr, &dir, "a", &[]);
    d.wait_ready();
}

#[test]
fn pid_file_is_created_under_a_random_name_and_planted_links_are_not_followed() {
    if !require_netns("pid_file_is_created_under_a_random_name_and_planted_links_are_not_followed")
    {
        return;
    }
    let net = Line::new("ll");
    let dir = TempDir::new("ll");
    std::fs::write(dir.path("b.conf"), "phyint r0 enable\n").unwrap();
    // What an unprivileged user could plant next to a PID file in a shared directory.
    let victim = dir.path("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    std::os::unix::fs::symlink(&victim, dir.path("b.pid.tmp")).unwrap();
    std::os::unix::fs::symlink(&victim, dir.path("b.pid")).unwrap();
    let mut d = start(&net.rtr, &dir, "b", &[]);
    d.wait_ready();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    let meta = std::fs::symlink_metadata(&d.pidfile).unwrap();
    assert!(meta.is_file(), "the link was replaced by a regular file");
    // No temporary file is left behind.
    let names: Vec<String> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".b.pid"))
        .collect();
    assert!(names.is_empty(), "{names:?}");
    d.proc.signal(Signal::SIGTERM);
    assert_eq!(d.proc.wait_exit(Duration::from_secs(20)), Some(0));
    assert!(!d.pidfile.exists(), "removed at exit");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
}

#[test]
fn sighup_during_start_up_is_applied_once_start_up_is_done() {
    if !require_netns("sighup_during_start_up_is_applied_once_start_up_is_done") {
        return;
    }
    let net = Line::new("lh");
    let dir = TempDir::new("lh");
    let mut conf = String::from("phyint r0 enable\nphyint r1 enable\n");
    for i in 0..5000u32 {
        conf.push_str(&format!(
            "mroute from r0 source 192.0.2.1 group 225.{}.{}.{} to r1\n",
            20 + i / 65536,
            (i / 256) % 256,
            i % 256
        ));
    }
    std::fs::write(dir.path("h.conf"), &conf).unwrap();
    // -d 2: start-up waits two seconds before it reads anything; the SIGHUP lands then.
    let mut d = start(&net.rtr, &dir, "h", &["-d", "2"]);
    d.wait_handlers();
    assert!(!d.pidfile.exists(), "still starting");
    d.proc.signal(Signal::SIGHUP);
    d.wait_ready();
    assert!(d.wait_log("reloaded"), "{}", d.proc.output());
    assert!(
        matches!(d.proc.child.try_wait(), Ok(None)),
        "{}",
        d.proc.output()
    );
    assert_eq!(routes(&net.rtr), 5000);
    let out = d.proc.output();
    assert_eq!(out.matches("reloaded").count(), 1, "{out}");
    d.proc.signal(Signal::SIGTERM);
    assert_eq!(d.proc.wait_exit(Duration::from_secs(20)), Some(0));
}

#[test]
fn sigterm_during_start_up_exits_cleanly() {
    if !require_netns("sigterm_during_start_up_exits_cleanly") {
        return;
    }
    let net = Line::new("lt");
    let dir = TempDir::new("lt");
    std::fs::write(
        dir.path("t.conf"),
        "phyint r0 enable\nphyint r1 enable\nmroute from r0 source 192.0.2.1 group 225.1.1.1 to r1\n",
    )
    .unwrap();
    let mut d = start(&net.rtr, &dir, "t", &["-d", "30"]);
    d.wait_handlers();
    d.proc.signal(Signal::SIGTERM);
    let code = d.proc.wait_exit(Duration::from_secs(10));
    let out = d.proc.output();
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("exiting"), "{out}");
    assert!(!d.pidfile.exists() && !d.socket.exists(), "{out}");
    assert_eq!(routes(&net.rtr), 0);
}

#[test]
fn a_reload_whose_file_is_missing_is_refused_and_the_routes_stay() {
    if !require_netns("a_reload_whose_file_is_missing_is_refused_and_the_routes_stay") {
        return;
    }
    let net = Line::new("lm");
    let dir = TempDir::new("lm");
    let conf = dir.path("m.conf");
    std::fs::write(
        &conf,
        "phyint r0 enable\nphyint r1 enable\nmroute from r0 source 192.0.2.1 group 225.1.1.1 to r1\n",
    )
    .unwrap();
    let mut d = start(&net.rtr, &dir, "m", &[]);
    d.wait_ready();
    assert_eq!(routes(&net.rtr), 1);
    std::fs::remove_file(&conf).unwrap();
    d.proc.signal(Signal::SIGHUP);
    assert!(d.wait_log("reload refused"), "{}", d.proc.output());
    let out = d.proc.output();
    assert!(
        out.contains(&format!("cannot read \"{}\"", conf.display())),
        "{out}"
    );
    assert_eq!(routes(&net.rtr), 1, "the running routes stay");
    // An empty file is an empty configuration: the router empties.
    std::fs::write(&conf, "").unwrap();
    d.proc.signal(Signal::SIGHUP);
    assert!(d.wait_log("reloaded"), "{}", d.proc.output());
    assert!(wait_until(Duration::from_secs(10), || routes(&net.rtr) == 0));
}

#[test]
fn an_include_of_a_fifo_or_dev_zero_is_refused_at_start_without_blocking() {
    if !require_netns("an_include_of_a_fifo_or_dev_zero_is_refused_at_start_without_blocking") {
        return;
    }
    let net = Line::new("lf");
    let dir = TempDir::new("lf");
    let fifo = dir.path("fifo.conf");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    std::fs::write(
        dir.path("f.conf"),
        format!(
            "phyint r0 enable\ninclude {}\ninclude /dev/zero\n",
            fifo.display()
        ),
    )
    .unwrap();
    let mut d = start(&net.rtr, &dir, "f", &[]);
    let code = d.proc.wait_exit(Duration::from_secs(20));
    let out = d.proc.output();
    assert_eq!(code, Some(78), "{out}");
    assert!(out.contains("is a FIFO, not a regular file"), "{out}");
    assert!(
        out.contains("\"/dev/zero\" is a character device, not a regular file"),
        "{out}"
    );
}

#[test]
fn with_p_user_a_reload_reads_a_0600_file_and_exit_removes_the_pid_file_and_socket() {
    if !require_netns(
        "with_p_user_a_reload_reads_a_0600_file_and_exit_removes_the_pid_file_and_socket",
    ) {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let net = Line::new("lp");
    let dir = TempDir::new("lp");
    // Root's directory (0755: nobody cannot remove files in it) and a file only root reads.
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o755)).unwrap();
    let conf = dir.path("p.conf");
    let write_conf = |group: &str| {
        std::fs::write(
            &conf,
            format!(
                "phyint r0 enable\nphyint r1 enable\nmroute from r0 source 192.0.2.1 group {group} to r1\n"
            ),
        )
        .unwrap();
        std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o600)).unwrap();
    };
    write_conf("225.1.1.1");
    let mut d = start(&net.rtr, &dir, "p", &["-p", "nobody"]);
    d.wait_ready();
    let status = format!("/proc/{}/status", d.pid());
    assert!(wait_until(Duration::from_secs(10), || {
        std::fs::read_to_string(&status).is_ok_and(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.contains("65534"))
        })
    }));
    let cache = |g: &str| net.rtr.proc_net("ip_mr_cache").contains(g);
    assert!(cache("010101E1"), "{}", net.rtr.proc_net("ip_mr_cache"));
    // A reload as nobody reads the 0600 file (through the keeper).
    write_conf("225.2.2.2");
    d.proc.signal(Signal::SIGHUP);
    assert!(d.wait_log("reloaded"), "{}", d.proc.output());
    assert!(
        !d.proc.output().contains("Permission denied"),
        "{}",
        d.proc.output()
    );
    assert!(wait_until(Duration::from_secs(10), || cache("020202E1")
        && !cache("010101E1")));
    // At exit the PID file and the socket go, though nobody cannot remove them.
    d.proc.signal(Signal::SIGTERM);
    assert_eq!(d.proc.wait_exit(Duration::from_secs(20)), Some(0));
    assert!(
        wait_until(Duration::from_secs(10), || !d.pidfile.exists()
            && !d.socket.exists()),
        "left behind: pid {} socket {}\n{}",
        d.pidfile.exists(),
        d.socket.exists(),
        d.proc.output()
    );
}
