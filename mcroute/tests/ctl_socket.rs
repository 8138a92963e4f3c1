//! The control socket: requests, garbage, stalled and hostile clients, permissions.
//!
//! Each guarantee of `mcroute::ctl::server` has a test named after it here; clients of
//! another user run as separate processes (this test binary re-run as `nobody`).

use std::io::{BufRead, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mcroute::ctl::client::{ClientError, CtlClient};
use mcroute::ctl::protocol::MAX_OUTPUT;
use mcroute::ctl::server::{
    Access, Answer, CtlServer, CtlStats, Cursor, Handler, Peer, IDLE_TIMEOUT, MAX_CLIENTS,
    PART_ROWS, REQUESTS_PER_TURN,
};
use mcroute::ctl::{wire, GroupRow, Request, Response, ShowWhat};

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mcroute-ctl-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Whether the test can run as root; skips loudly (or fails under
/// `MCROUTE_REQUIRE_NETNS=1`) otherwise.
fn need_root(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    if std::env::var("MCROUTE_REQUIRE_NETNS").is_ok_and(|v| v == "1") {
        panic!("{test} needs root but MCROUTE_REQUIRE_NETNS=1");
    }
    eprintln!("\n*** SKIPPED {test}: needs root to run clients as another user ***\n");
    false
}

/// The 10,000 rows of `show groups` (made once: debug builds are slow at it).
fn group_rows() -> Vec<GroupRow> {
    static ROWS: std::sync::OnceLock<Vec<GroupRow>> = std::sync::OnceLock::new();
    ROWS.get_or_init(|| rows_between(0, 10_000)).clone()
}

/// Rows `from..to` of a long `show groups`.
fn rows_between(from: usize, to: usize) -> Vec<GroupRow> {
    (from..to)
        .map(|i| GroupRow {
            source: None,
            group: format!("225.{}.{}.{}/32", i >> 16, (i >> 8) & 255, i & 255)
                .parse()
                .unwrap(),
            iif: format!("eth{}", i % 100),
        })
        .collect()
}

/// The handler of the tests: `version`, `show interfaces` (empty), `show groups` (10,000
/// rows, given whole), `show routes` (a stream of `rows` groups, produced part by part).
struct TestDaemon {
    rows: usize,
}

impl Handler for TestDaemon {
    fn handle(&mut self, req: &Request, _peer: Peer) -> Answer {
        Answer::Reply(match req {
            Request::Version => Response::Version("test-daemon 1".into()),
            Request::Flush => Response::Ok,
            Request::Show {
                what: ShowWhat::Interfaces,
                ..
            } => Response::Interfaces(vec![]),
            Request::Show {
                what: ShowWhat::Groups,
                ..
            } => Response::Groups(group_rows()),
            Request::Show {
                what: ShowWhat::Routes,
                detail,
            } => {
                return Answer::Stream(Cursor {
                    what: ShowWhat::Routes,
                    detail: *detail,
                    position: Box::new(0usize),
                })
            }
            _ => Response::Error("not implemented in this test".into()),
        })
    }

    fn resume(&mut self, cursor: &mut Cursor, rows: usize) -> (Response, bool) {
        let next = cursor.position.downcast_mut::<usize>().unwrap();
        let end = (*next + rows).min(self.rows);
        let part = rows_between(*next, end);
        *next = end;
        (Response::Groups(part), end == self.rows)
    }
}

struct Running {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(CtlStats, usize)>,
}

impl Running {
    /// Stops the server; its statistics, and the largest number of requests one turn
    /// answered.
    fn stop(self) -> (CtlStats, usize) {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap()
    }
}

/// Runs a server on `path` in a thread, as a daemon's event loop does, until stopped.
fn serve_with(path: &Path, access: Access, rows: usize) -> Running {
    let mut server = CtlServer::bind(path, access).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let thread = std::thread::spawn(move || {
        let mut daemon = TestDaemon { rows };
        let mut most = 0;
        while !stop2.load(Ordering::SeqCst) {
            let timeout = server.next_deadline().map_or(50, |d| {
                d.saturating_duration_since(Instant::now())
                    .as_millis()
                    .clamp(0, 50) as u16
            });
            {
                let mut fds = server.poll_fds();
                let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(timeout));
            }
            let before = server.stats().requests;
            server.poll_with(&mut daemon);
            most = most.max((server.stats().requests - before) as usize);
        }
        (server.stats(), most)
    });
    Running { stop, thread }
}

fn serve(path: &Path) -> Running {
    serve_with(path, Access::default(), 0)
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut f = b"MCR\x02\x00".to_vec();
    f.extend_from_slice(&(body.len() as u32).to_be_bytes());
    f.extend_from_slice(body);
    f
}

#[test]
fn serves_requests_and_survives_garbage_and_stalls() {
    let dir = temp_dir("garbage");
    let path = dir.join("test.sock");
    let server = serve(&path);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660, "socket mode");

    // A client that connects and sends half a frame, then stalls.
    let mut stalled = CtlClient::connect(&path).unwrap();
    stalled.send_raw(b"MCR\x02\x00\x00\x00\x10ab").unwrap();

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
    big.send_raw(b"MCR\x02\x00\x7f\xff\xff\xff").unwrap();
    assert!(matches!(big.recv(), Ok(Response::Error(e)) if e.contains("exceeds the limit")));

    // A well-framed but invalid request gets an error and the connection stays usable.
    let mut ok = CtlClient::connect(&path).unwrap();
    ok.send_raw(&frame(br#""frobnicate""#)).unwrap();
    assert!(
        matches!(ok.recv(), Ok(Response::Error(e)) if e.contains("unknown variant `frobnicate`"))
    );
    ok.send_raw(&frame(
        br#"{"add":{"iif":"a1","source":null,"group":"192.0.2.1","oifs":[]}}"#,
    ))
    .unwrap();
    assert!(matches!(ok.recv(), Ok(Response::Error(e)) if e.contains("not a multicast group")));
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
    std::thread::sleep(IDLE_TIMEOUT + Duration::from_millis(500));
    match stalled.recv() {
        Ok(Response::Error(e)) => assert_eq!(e, "request timed out"),
        other => panic!("expected a timeout reply, got {other:?}"),
    }
    let (stats, _) = server.stop();
    assert!(stats.malformed >= 2, "{stats:?}");
    assert!(stats.requests >= 501, "{stats:?}");
    assert!(!path.exists(), "socket removed when the server is dropped");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_old_protocol_version_gets_a_clear_error() {
    let dir = temp_dir("version");
    let path = dir.join("v.sock");
    let server = serve(&path);
    // A version-1 frame (the hand-made encoding of 0.1 betas) of `version`.
    let mut old = CtlClient::connect(&path).unwrap();
    old.send_raw(b"MCR\x01\x00\x00\x00\x0cl\x00\x00\x00\x01s\x00\x00\x00\x07version")
        .unwrap();
    match old.recv() {
        Ok(Response::Error(e)) => assert_eq!(
            e,
            "bad request: unsupported control protocol version 1 (this side speaks 2): use mcroutectl and the daemon of the same release"
        ),
        other => panic!("expected a version error, got {other:?}"),
    }
    assert!(matches!(old.recv(), Err(ClientError::Closed)));
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_long_show_is_streamed_in_parts_within_a_bounded_buffer() {
    let dir = temp_dir("stream");
    let path = dir.join("s.sock");
    let rows = 100_000;
    let server = serve_with(&path, Access::default(), rows);
    let mut c = CtlClient::connect(&path).unwrap();
    // A client that reads slowly: the server must wait for it, never buffer it all.
    c.send(&Request::Show {
        what: ShowWhat::Routes,
        detail: false,
    })
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let mut got = 0;
    let mut parts = 0;
    loop {
        let (part, more) = c.recv_part().unwrap();
        got += part.rows().unwrap();
        parts += 1;
        if !more {
            break;
        }
    }
    assert_eq!(got, rows);
    assert_eq!(parts, rows.div_ceil(PART_ROWS));
    // The same over a reply given whole (cut by the server), joined by `recv`.
    let whole = c
        .request(&Request::Show {
            what: ShowWhat::Groups,
            detail: false,
        })
        .unwrap();
    assert_eq!(whole, Response::Groups(group_rows()));
    let (stats, _) = server.stop();
    assert_eq!(stats.streamed, 2, "{stats:?}");
    assert!(
        stats.output_peak <= (MAX_OUTPUT + 256 * 1024) as u64,
        "output held for one client: {} bytes",
        stats.output_peak
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn clients_that_never_read_do_not_delay_others() {
    let dir = temp_dir("noread");
    let path = dir.join("n.sock");
    let server = serve(&path);
    // 20 clients ask for a long reply again and again and never read.
    let mut deaf = Vec::new();
    for _ in 0..20 {
        let mut s = UnixStream::connect(&path).unwrap();
        let mut req = Vec::new();
        for _ in 0..50 {
            wire::encode_request(
                &Request::Show {
                    what: ShowWhat::Groups,
                    detail: false,
                },
                &mut req,
            );
        }
        s.write_all(&req).unwrap();
        deaf.push(s);
    }
    // Wait until the server has started answering each of them (and filled its buffers).
    for s in &deaf {
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut b = [0u8; 1];
        let n = nix::sys::socket::recv(
            std::os::fd::AsRawFd::as_raw_fd(s),
            &mut b,
            nix::sys::socket::MsgFlags::MSG_PEEK,
        )
        .unwrap();
        assert_eq!(n, 1);
    }
    // Another client is answered at once: before any of the deaf ones has been dropped for
    // idling (the server never waits on them).
    let mut c = CtlClient::connect(&path).unwrap();
    let t = Instant::now();
    let r = c
        .request(&Request::Show {
            what: ShowWhat::Groups,
            detail: false,
        })
        .unwrap();
    let answered_in = t.elapsed();
    eprintln!("answered in {answered_in:?} beside 20 clients that never read");
    assert_eq!(r.rows(), Some(10_000));
    let (stats, _) = server.stop();
    assert_eq!(
        stats.dropped, 0,
        "answered in {answered_in:?}, but only after dropping stalled clients: {stats:?}"
    );
    assert!(
        stats.output_peak <= (MAX_OUTPUT + 256 * 1024) as u64,
        "{stats:?}"
    );
    drop(deaf);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_100_mb_request_stream_costs_linear_time() {
    let dir = temp_dir("flood");
    let path = dir.join("f.sock");
    let server = serve(&path);
    // Valid requests of 60 KB each (JSON allows the padding), 100 MB back to back.
    let mut body = vec![b' '; 60_000];
    body.extend_from_slice(br#""flush""#);
    let one = frame(&body);
    let n = 100 * 1024 * 1024 / one.len();
    let writer = {
        let mut s = UnixStream::connect(&path).unwrap();
        let reader = s.try_clone().unwrap();
        let one = one.clone();
        let w = std::thread::spawn(move || {
            for _ in 0..n {
                s.write_all(&one).unwrap();
            }
            s
        });
        let r = std::thread::spawn(move || {
            let mut c = reader;
            let mut buf = vec![0u8; 65536];
            let mut total = 0;
            while total < n * (wire::HEADER_LEN + 4) {
                match c.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => total += k,
                }
            }
            total
        });
        (w, r)
    };
    // Meanwhile another client is served.
    std::thread::sleep(Duration::from_millis(100));
    let mut c = CtlClient::connect(&path).unwrap();
    assert_eq!(
        c.request(&Request::Version).unwrap(),
        Response::Version("test-daemon 1".into())
    );
    let s = writer.0.join().unwrap();
    let replies = writer.1.join().unwrap();
    drop(s);
    assert_eq!(replies, n * (wire::HEADER_LEN + 4), "one `ok` per request");
    let (stats, most) = server.stop();
    assert_eq!(stats.requests as usize, n + 1);
    let mut version = Vec::new();
    wire::encode_request(&Request::Version, &mut version);
    assert_eq!(stats.input_bytes as usize, n * one.len() + version.len());
    // Reassembly moved at most as many bytes as it was fed (draining the buffer per frame
    // would have moved about n * buffered, ~100 times more).
    assert!(
        stats.input_moved <= stats.input_bytes,
        "moved {} of {} bytes",
        stats.input_moved,
        stats.input_bytes
    );
    assert!(most <= 2 * REQUESTS_PER_TURN, "{most} requests in one turn");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn each_turn_does_bounded_work_per_client() {
    let dir = temp_dir("turn");
    let path = dir.join("t.sock");
    let mut server = CtlServer::bind(&path, Access::default()).unwrap();
    let mut c = UnixStream::connect(&path).unwrap();
    let mut reqs = Vec::new();
    for _ in 0..1000 {
        wire::encode_request(&Request::Version, &mut reqs);
    }
    c.write_all(&reqs).unwrap();
    let mut calls = 0;
    server.poll(|_: &Request, _: Peer| {
        calls += 1;
        Response::Ok
    });
    assert_eq!(calls, REQUESTS_PER_TURN);
    // The rest is left for the next turns, and the event loop is told to come back now.
    assert!(server.next_deadline().is_some_and(|d| d <= Instant::now()));
    for _ in 0..100 {
        if calls == 1000 {
            break;
        }
        server.poll(|_: &Request, _: Peer| {
            calls += 1;
            Response::Ok
        });
    }
    assert_eq!(calls, 1000);
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
    let server = serve(&path);
    let e = CtlServer::bind(&path, Access::default())
        .err()
        .expect("refused");
    assert!(e.to_string().contains("another daemon is listening"), "{e}");
    server.stop();
    // A stale socket file (no listener) is replaced.
    std::os::unix::net::UnixListener::bind(&path).unwrap();
    drop(CtlServer::bind(&path, Access::default()).expect("stale socket replaced"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Run as a child process under another uid by the tests below: `MCROUTE_CTL_CHILD` is the
/// socket, `MCROUTE_CTL_MODE` what to do.
#[test]
fn ctl_child_client() {
    let Ok(path) = std::env::var("MCROUTE_CTL_CHILD") else {
        return;
    };
    let path = Path::new(&path);
    match std::env::var("MCROUTE_CTL_MODE").as_deref() {
        Ok("silent") => silent_child(path),
        _ => {
            let expect = std::env::var("MCROUTE_CTL_EXPECT").unwrap();
            assert_eq!(child_outcome(path), expect);
        }
    }
}

fn child_outcome(path: &Path) -> String {
    match CtlClient::connect(path) {
        Err(ClientError::PermissionDenied(_)) => "connect-denied".to_string(),
        Err(e) => format!("connect-error {e}"),
        Ok(mut c) => match c.request(&Request::Version) {
            Ok(Response::Error(e)) if e.starts_with("permission denied") => "server-refused".into(),
            Ok(Response::Error(e)) if e.starts_with("too many clients") => "too-many".into(),
            other => format!("served {other:?}"),
        },
    }
}

/// Opens `MAX_CLIENTS` connections and sends nothing; says so on stdout, then how many of
/// them the server closed (each within twice the idle timeout) and what a further client of
/// its own got.
fn silent_child(path: &Path) {
    let conns: Vec<UnixStream> = (0..MAX_CLIENTS)
        .map(|_| UnixStream::connect(path).unwrap())
        .collect();
    // Let the server take them all before the next one.
    std::thread::sleep(Duration::from_millis(300));
    let extra = child_outcome(path);
    println!("connected {} {extra}", conns.len());
    let mut closed = 0;
    for mut c in conns {
        c.set_read_timeout(Some(IDLE_TIMEOUT * 2)).unwrap();
        let mut buf = Vec::new();
        if c.read_to_end(&mut buf).is_ok() {
            closed += 1;
        }
    }
    println!("closed {closed}");
}

fn child(path: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "ctl_child_client", "--nocapture"])
        .env("MCROUTE_CTL_CHILD", path)
        .env_remove("MCROUTE_REQUIRE_NETNS")
        .uid(65534)
        .gid(65534);
    cmd
}

#[test]
fn non_member_is_refused() {
    if !need_root("non_member_is_refused") {
        return;
    }
    let dir = temp_dir("perm");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.join("p.sock");
    let server = serve(&path);
    let run_as_nobody = |expect: &str| {
        let out = child(&path)
            .env("MCROUTE_CTL_EXPECT", expect)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "child expecting {expect}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // Mode 0660 root:root: the kernel refuses the connection.
    run_as_nobody("connect-denied");
    // Even if the file were opened up (a bad umask, an ACL), the server checks credentials.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).unwrap();
    run_as_nobody("server-refused");
    let (stats, _) = server.stop();
    assert_eq!(stats.refused, 1, "{stats:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn silent_clients_cannot_lock_out_root_and_are_closed_when_idle() {
    if !need_root("silent_clients_cannot_lock_out_root_and_are_closed_when_idle") {
        return;
    }
    let dir = temp_dir("silent");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.join("s.sock");
    // The socket's group is nobody's, so `nobody` is an ordinary member.
    let access = Access {
        group: Some(nix::unistd::Gid::from_raw(65534)),
        ..Access::default()
    };
    let server = serve_with(&path, access, 0);
    let mut kid = child(&path)
        .env("MCROUTE_CTL_MODE", "silent")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The child's own lines, among the test harness's.
    let mut lines = std::io::BufReader::new(kid.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .filter(|l| l.starts_with("connected") || l.starts_with("closed"));
    let first = lines.next().unwrap();
    // Every ordinary slot is taken by a silent client: a 65th member is turned away...
    assert_eq!(first, format!("connected {MAX_CLIENTS} too-many"));
    // ...but root is served, on a reserved slot.
    let mut root = CtlClient::connect(&path).unwrap();
    assert_eq!(
        root.request(&Request::Show {
            what: ShowWhat::Interfaces,
            detail: false
        })
        .unwrap(),
        Response::Interfaces(vec![])
    );
    drop(root);
    // The silent clients are closed once idle, though they never sent a byte.
    let last = lines.next().unwrap();
    assert_eq!(last, format!("closed {MAX_CLIENTS}"));
    assert!(kid.wait().unwrap().success());
    let (stats, _) = server.stop();
    assert_eq!(stats.reserved, 1, "{stats:?}");
    assert!(stats.dropped > MAX_CLIENTS as u64, "{stats:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
