//! The control socket: requests, garbage, stalled clients, permissions.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mcroute::ctl::client::{ClientError, CtlClient};
use mcroute::ctl::server::{Access, CtlServer};
use mcroute::ctl::{Request, Response, ShowWhat};

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mcroute-ctl-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs a server on `path` in a thread until the returned flag is set.
fn serve(
    path: &Path,
) -> (
    Arc<AtomicBool>,
    std::thread::JoinHandle<mcroute::ctl::server::CtlStats>,
) {
    let mut server = CtlServer::bind(path, Access::default()).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let h = std::thread::spawn(move || {
        while !stop2.load(Ordering::SeqCst) {
            {
                let fds = server.fds();
                let mut pfds: Vec<_> = fds
                    .iter()
                    .map(|f| nix::poll::PollFd::new(*f, nix::poll::PollFlags::POLLIN))
                    .collect();
                let _ = nix::poll::poll(&mut pfds, nix::poll::PollTimeout::from(50u16));
            }
            server.poll(|req, _peer| match req {
                Request::Version => Response::Version("test-daemon 1".into()),
                Request::Show {
                    what: ShowWhat::Interfaces,
                    ..
                } => Response::Interfaces(vec![]),
                _ => Response::Error("not implemented in this test".into()),
            });
        }
        server.stats()
    });
    (stop, h)
}

#[test]
fn serves_requests_and_survives_garbage_and_stalls() {
    let dir = temp_dir("garbage");
    let path = dir.join("test.sock");
    let (stop, h) = serve(&path);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660, "socket mode");

    // A client that connects and sends half a frame, then stalls.
    let mut stalled = CtlClient::connect(&path).unwrap();
    stalled.send_raw(b"MCR\x01\x00\x00\x00\x10ab").unwrap();

    // A client that sends garbage gets an error reply and is disconnected.
    let mut bad = CtlClient::connect(&path).unwrap();
    bad.send_raw(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    match bad.recv() {
        Ok(Response::Error(e)) => assert!(e.contains("bad magic"), "{e}"),
        other => panic!("expected an error reply, got {other:?}"),
    }
    assert!(matches!(bad.recv(), Err(ClientError::Closed)));

    // An oversized frame is refused the same way.
    let mut big = CtlClient::connect(&path).unwrap();
    big.send_raw(b"MCR\x01\x7f\xff\xff\xff").unwrap();
    assert!(matches!(big.recv(), Ok(Response::Error(e)) if e.contains("exceeds the limit")));

    // A well-framed but invalid request gets an error and the connection stays usable.
    let mut ok = CtlClient::connect(&path).unwrap();
    let bogus = mcroute::ctl::wire::encode_frame(&mcroute::ctl::wire::Value::List(vec![
        mcroute::ctl::wire::Value::Str("frobnicate".into()),
    ]));
    ok.send_raw(&bogus).unwrap();
    assert!(matches!(ok.recv(), Ok(Response::Error(e)) if e.contains("unknown command")));
    // Meanwhile the daemon keeps serving other clients, pipelined too.
    let replies = ok
        .batch(&vec![Request::Version; 500])
        .expect("batch of 500 requests");
    assert_eq!(replies.len(), 500);
    assert!(replies
        .iter()
        .all(|r| *r == Response::Version("test-daemon 1".into())));
    let mut again = CtlClient::connect(&path).unwrap();
    assert_eq!(
        again
            .request(&Request::Show {
                what: ShowWhat::Interfaces,
                detail: false
            })
            .unwrap(),
        Response::Interfaces(vec![])
    );
    // The stalled client is dropped after the idle timeout.
    std::thread::sleep(Duration::from_millis(5500));
    match stalled.recv() {
        Ok(Response::Error(e)) => assert_eq!(e, "request timed out"),
        other => panic!("expected a timeout reply, got {other:?}"),
    }
    stop.store(true, Ordering::SeqCst);
    let stats = h.join().unwrap();
    assert!(stats.malformed >= 2, "{stats:?}");
    assert!(stats.requests >= 501, "{stats:?}");
    assert!(!path.exists(), "socket removed when the server is dropped");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn connecting_to_nothing_says_not_running() {
    let dir = temp_dir("none");
    let path = dir.join("absent.sock");
    let e = CtlClient::connect(&path).err().expect("no daemon");
    assert!(matches!(e, ClientError::NotRunning(_)));
    assert_eq!(
        e.to_string(),
        format!("daemon not running: cannot connect to {}", path.display())
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_second_server_does_not_steal_a_live_socket() {
    let dir = temp_dir("steal");
    let path = dir.join("d.sock");
    let (stop, h) = serve(&path);
    let e = CtlServer::bind(&path, Access::default())
        .err()
        .expect("refused");
    assert!(e.to_string().contains("another daemon is listening"), "{e}");
    stop.store(true, Ordering::SeqCst);
    h.join().unwrap();
    // A stale socket file (no listener) is replaced.
    std::os::unix::net::UnixListener::bind(&path).unwrap();
    drop(CtlServer::bind(&path, Access::default()).expect("stale socket replaced"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Run as a child process under another uid by `non_member_is_refused`.
#[test]
fn ctl_child_client() {
    let Ok(path) = std::env::var("MCROUTE_CTL_CHILD") else {
        return;
    };
    let expect = std::env::var("MCROUTE_CTL_EXPECT").unwrap();
    let outcome = match CtlClient::connect(Path::new(&path)) {
        Err(ClientError::PermissionDenied(_)) => "connect-denied".to_string(),
        Err(e) => format!("connect-error {e}"),
        Ok(mut c) => match c.request(&Request::Version) {
            Ok(Response::Error(e)) if e.starts_with("permission denied") => "server-refused".into(),
            other => format!("served {other:?}"),
        },
    };
    assert_eq!(outcome, expect);
}

#[test]
fn non_member_is_refused() {
    if !nix::unistd::geteuid().is_root() {
        if std::env::var("MCROUTE_REQUIRE_NETNS").is_ok_and(|v| v == "1") {
            panic!("non_member_is_refused needs root but MCROUTE_REQUIRE_NETNS=1");
        }
        eprintln!(
            "\n*** SKIPPED non_member_is_refused: needs root to run a client as nobody ***\n"
        );
        return;
    }
    let dir = temp_dir("perm");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.join("p.sock");
    let (stop, h) = serve(&path);
    let run_as_nobody = |expect: &str| {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "ctl_child_client", "--nocapture"])
            .env("MCROUTE_CTL_CHILD", &path)
            .env("MCROUTE_CTL_EXPECT", expect)
            .env_remove("MCROUTE_REQUIRE_NETNS")
            .uid(65534)
            .gid(65534)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "child expecting {expect}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    use std::os::unix::process::CommandExt;
    // Mode 0660 root:root: the kernel refuses the connection.
    run_as_nobody("connect-denied");
    // Even if the file were opened up (a bad umask, an ACL), the server checks credentials.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).unwrap();
    run_as_nobody("server-refused");
    stop.store(true, Ordering::SeqCst);
    let stats = h.join().unwrap();
    assert_eq!(stats.refused, 1, "{stats:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
