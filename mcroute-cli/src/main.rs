//! `mcroutectl`: the control tool of the mcroute daemons, a drop-in smcroutectl.
//!
//! The command syntax, its parsing and the output formats live in the library
//! (`mcroute::ctl`); this file handles options, the connection and exit codes.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

use mcroute::ctl::client::{ClientError, CtlClient};
use mcroute::ctl::command::{self, Command, COMMANDS};
use mcroute::ctl::compat::{self, Foreign, Reply};
use mcroute::ctl::render::{self, Style};
use mcroute::ctl::{Request, Response, ShowWhat};
use mcroute::daemon::getopt::{getopt, LongArg, Opt};
use mcroute::daemon::Paths;

const OPTIONS: &str = "Options:
  -b              Batch mode: read commands from stdin, one per line, over one connection
  -d              Detailed output: counters in show
  -i NAME         Daemon identity: talk to /run/NAME.sock (default smcroute;
                  mrouted when invoked as mroutectl)
  -I NAME         The same as -i
  -j, --json      JSON output for show commands
  -p              Plain output (accepted for smcroutectl compatibility; output is always plain)
  -t              Omit section titles and table headings
  -u FILE         Control socket to use, overrides -i
  -h, --help      Show this help text
  -v, --version   Show the version
";

/// Whom this program stands in for, by the name it was invoked as (a symlink named
/// `smcroutectl` or `mroutectl`): the default identity and socket, and which foreign
/// daemon it expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Persona {
    Mcroutectl,
    Smcroutectl,
    Mroutectl,
}

impl Persona {
    fn from_argv0(arg0: Option<&str>) -> Persona {
        let name = arg0
            .map(std::path::Path::new)
            .and_then(|p| p.file_name())
            .and_then(|n| n.to_str())
            .unwrap_or("");
        match name {
            "smcroutectl" => Persona::Smcroutectl,
            "mroutectl" => Persona::Mroutectl,
            _ => Persona::Mcroutectl,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Persona::Mcroutectl => "mcroutectl",
            Persona::Smcroutectl => "smcroutectl",
            Persona::Mroutectl => "mroutectl",
        }
    }

    /// The default daemon identity: smcroute's, or mrouted's for `mroutectl`.
    fn ident(self) -> &'static str {
        match self {
            Persona::Mroutectl => "mrouted",
            _ => "smcroute",
        }
    }
}

fn usage(p: Persona) -> String {
    let mut s = format!(
        "Usage: {} [-bdjptv] [-i NAME] [-u FILE] [COMMAND [ARGS...]]\n\n",
        p.name()
    );
    s.push_str(OPTIONS);
    s.push_str("\nCommands:\n");
    for (_, u, h) in COMMANDS {
        s.push_str(&format!("  {u:<50} {h}\n"));
    }
    s.push_str(&format!(
        "\nCommands may be abbreviated to any unambiguous prefix: `{} s g`.\n\
         A running smcrouted (SMCRoute 2.5) or mrouted 4.x is asked in its own protocol.\n",
        p.name()
    ));
    s
}

struct Opts {
    persona: Persona,
    batch: bool,
    detail: bool,
    json: bool,
    style: Style,
    socket: PathBuf,
    words: Vec<String>,
}

fn parse_opts() -> Result<Opts, ExitCode> {
    let persona = Persona::from_argv0(std::env::args().next().as_deref());
    let args: Vec<String> = std::env::args().skip(1).collect();
    // mroutectl's long options too, so scripts written for it keep working.
    let parsed = getopt(
        &args,
        "bdhi:I:jptu:v",
        &[
            ("json", LongArg::None),
            ("help", LongArg::None),
            ("version", LongArg::None),
            ("detail", LongArg::None),
            ("plain", LongArg::None),
            ("no-heading", LongArg::None),
            ("ident", LongArg::Required),
            ("ipc", LongArg::Required),
        ],
    )
    .map_err(|e| {
        eprintln!("{}: {e}\n{}", persona.name(), usage(persona));
        ExitCode::from(64)
    })?;
    let mut o = Opts {
        persona,
        batch: false,
        detail: false,
        json: false,
        style: Style::default(),
        socket: Paths::for_ident(persona.ident()).socket,
        words: Vec::new(),
    };
    let mut explicit_socket = None;
    for opt in parsed {
        match opt {
            Opt::Short('b', _) => o.batch = true,
            Opt::Short('d', _) => o.detail = true,
            Opt::Long(l, _) if l == "detail" => o.detail = true,
            Opt::Short('i' | 'I', Some(n)) => o.socket = Paths::for_ident(&n).socket,
            Opt::Long(l, Some(n)) if l == "ident" => o.socket = Paths::for_ident(&n).socket,
            Opt::Long(l, Some(f)) if l == "ipc" => explicit_socket = Some(PathBuf::from(f)),
            Opt::Long(l, _) if l == "plain" => {}
            Opt::Long(l, _) if l == "no-heading" => o.style.no_headings = true,
            Opt::Short('j', _) => o.json = true,
            Opt::Long(l, _) if l == "json" => o.json = true,
            Opt::Short('p', _) => {}
            Opt::Short('t', _) => o.style.no_headings = true,
            Opt::Short('u', Some(f)) => explicit_socket = Some(PathBuf::from(f)),
            Opt::Short('h', _) => {
                print!("{}", usage(persona));
                return Err(ExitCode::SUCCESS);
            }
            Opt::Long(l, _) if l == "help" => {
                print!("{}", usage(persona));
                return Err(ExitCode::SUCCESS);
            }
            Opt::Short('v', _) => {
                println!("{} (mcroute) {}", persona.name(), env!("CARGO_PKG_VERSION"));
                return Err(ExitCode::SUCCESS);
            }
            Opt::Long(l, _) if l == "version" => {
                println!("{} (mcroute) {}", persona.name(), env!("CARGO_PKG_VERSION"));
                return Err(ExitCode::SUCCESS);
            }
            Opt::Free(w) => o.words.push(w),
            _ => {}
        }
    }
    if let Some(s) = explicit_socket {
        o.socket = s;
    }
    o.style.detail = o.detail;
    Ok(o)
}

/// Prints a reply; returns whether it was a success.
fn print_reply(o: &Opts, r: &Response) -> bool {
    match r {
        Response::Error(e) => {
            eprintln!("{}: {e}", o.persona.name());
            false
        }
        Response::Ok => true,
        other => {
            let text = if o.json {
                render::json(other).map(|j| j + "\n")
            } else {
                None
            };
            print!("{}", text.unwrap_or_else(|| render::human(other, o.style)));
            true
        }
    }
}

/// Prints what a foreign daemon answered; returns whether it was a success.
fn print_foreign(o: &Opts, r: &Reply) -> bool {
    match r {
        Reply::Response(r) => print_reply(o, r),
        Reply::Text(lines) => {
            if o.json {
                eprintln!(
                    "{}: no JSON for this reply: the daemon answered in text, printed as is",
                    o.persona.name()
                );
            }
            print!("{}", compat::render_plain(lines, o.style.no_headings));
            true
        }
    }
}

/// Who answered a request.
enum Answer {
    /// An mcroute daemon.
    Native(Response),
    /// smcrouted or mrouted, in its protocol.
    Foreign(Foreign, Reply),
}

/// Asks the daemon: natively, and when the connection closes unanswered (smcrouted and
/// mrouted close on a frame they cannot read, without acting on it), in the protocol of
/// the foreign daemon found there.
fn ask(o: &Opts, req: &Request) -> Result<Answer, ClientError> {
    let mut c = CtlClient::connect(&o.socket)?;
    match c.request(req) {
        Ok(r) => Ok(Answer::Native(r)),
        Err(e) if unanswered(&e) => match compat::client::detect(&o.socket)? {
            Some(f) => Ok(Answer::Foreign(
                f,
                compat::client::request(&o.socket, f, req)?,
            )),
            None => Err(ClientError::Closed),
        },
        Err(e) => Err(e),
    }
}

fn print_answer(o: &Opts, a: &Answer) -> bool {
    match a {
        Answer::Native(r) => print_reply(o, r),
        Answer::Foreign(_, r) => print_foreign(o, r),
    }
}

/// mroutectl's default and `show status`: interfaces, neighbours, routes and cache.
fn mrouted_status(o: &Opts, words: &[&str]) -> Option<Vec<Request>> {
    let status = match words {
        [] => true,
        [s, st] => {
            !s.is_empty() && "show".starts_with(s) && !st.is_empty() && "status".starts_with(st)
        }
        _ => false,
    };
    (o.persona == Persona::Mroutectl && status).then(|| {
        [
            ShowWhat::Interfaces,
            ShowWhat::Neighbors,
            ShowWhat::Routes,
            ShowWhat::Mfc,
        ]
        .into_iter()
        .map(|what| Request::Show {
            what,
            detail: o.detail,
        })
        .collect()
    })
}

fn main() -> ExitCode {
    let o = match parse_opts() {
        Ok(o) => o,
        Err(c) => return c,
    };
    let name = o.persona.name();
    if o.batch {
        return batch(&o);
    }
    let words: Vec<&str> = o.words.iter().map(String::as_str).collect();
    if let Some(reqs) = mrouted_status(&o, &words) {
        let mut ok = true;
        for r in &reqs {
            match ask(&o, r) {
                Ok(a) => ok &= print_answer(&o, &a),
                Err(e) => {
                    eprintln!("{name}: {e}");
                    return ExitCode::from(1);
                }
            }
        }
        return if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        };
    }
    let cmd = match command::parse(&words, o.detail) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{name}: {e}");
            return ExitCode::from(64);
        }
    };
    match cmd {
        Command::Help(None) => {
            print!("{}", usage(o.persona));
            ExitCode::SUCCESS
        }
        Command::Help(Some(c)) => {
            let (_, u, h) = COMMANDS
                .iter()
                .find(|x| x.0 == c)
                .expect("resolved command");
            println!("Usage: {name} {u}\n\n{h}");
            ExitCode::SUCCESS
        }
        Command::Mtrace {
            source,
            group,
            receiver,
        } => {
            let mut req = mcroute::service::dvmrp::client::TraceRequest::new(source);
            req.group = group;
            req.receiver = receiver;
            match mcroute::service::dvmrp::client::mtrace(&req) {
                Ok(t) => {
                    print!("{t}");
                    if t.complete() {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::from(1)
                    }
                }
                Err(e) => {
                    eprintln!("mcroutectl: mtrace: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Mrinfo { router } => {
            match mcroute::service::dvmrp::client::mrinfo(router, std::time::Duration::from_secs(3))
            {
                Ok(i) => {
                    print!("{i}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("mcroutectl: mrinfo: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Version => {
            println!("{name} (mcroute) {}", env!("CARGO_PKG_VERSION"));
            match ask(&o, &Request::Version) {
                Ok(Answer::Native(Response::Version(v))) => println!("daemon: {v}"),
                Ok(Answer::Foreign(_, Reply::Response(Response::Version(v)))) => {
                    println!("daemon: {v}")
                }
                Ok(Answer::Foreign(f, _)) => {
                    println!("daemon: {} (it does not report its version)", f.daemon())
                }
                _ => {}
            }
            ExitCode::SUCCESS
        }
        Command::Request(req) => match ask(&o, &req) {
            Ok(a) => {
                if print_answer(&o, &a) {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                }
            }
            Err(e) => {
                eprintln!("{name}: {e}");
                ExitCode::from(1)
            }
        },
    }
}

/// `-b`: every line of stdin is a command (blank lines and `#` comments skipped), sent
/// pipelined over one connection (one connection per line to smcrouted or mrouted). Exits
/// 1 if any command failed, naming its line.
fn batch(o: &Opts) -> ExitCode {
    let name = o.persona.name();
    let stdin = std::io::stdin();
    let mut reqs = Vec::new();
    let mut lines = Vec::new();
    let mut bad = false;
    for (n, line) in stdin.lock().lines().enumerate() {
        let Ok(line) = line else { break };
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let words: Vec<&str> = t.split_whitespace().collect();
        match command::parse(&words, o.detail) {
            Ok(Command::Request(r)) => {
                reqs.push(r);
                lines.push(n + 1);
            }
            Ok(_) => {}
            Err(e) => {
                eprintln!("{name}: line {}: {e}", n + 1);
                bad = true;
            }
        }
    }
    if reqs.is_empty() {
        return if bad {
            ExitCode::from(64)
        } else {
            ExitCode::SUCCESS
        };
    }
    let mut c = match CtlClient::connect(&o.socket) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{name}: {e}");
            return ExitCode::from(1);
        }
    };
    let replies: Vec<Reply> = match c.batch(&reqs) {
        Ok(r) => r.into_iter().map(Reply::Response).collect(),
        Err(e) if unanswered(&e) => match foreign_batch(o, &reqs) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{name}: {e}");
                return ExitCode::from(1);
            }
        },
        Err(e) => {
            eprintln!("{name}: {e}");
            return ExitCode::from(1);
        }
    };
    let mut failed = 0;
    for (r, line) in replies.iter().zip(&lines) {
        if let Reply::Response(Response::Error(e)) = r {
            eprintln!("{name}: line {line}: {e}");
            failed += 1;
        } else {
            print_foreign(o, r);
        }
    }
    if failed > 0 || bad {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Whether a native request went unanswered the way smcrouted and mrouted leave it: the
/// connection closed (or was reset, or stopped taking requests) without a reply.
fn unanswered(e: &ClientError) -> bool {
    match e {
        ClientError::Closed => true,
        ClientError::Io { source, .. } => matches!(
            source.kind(),
            std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
        ),
        _ => false,
    }
}

/// A batch for smcrouted or mrouted: one connection per request, as their clients do.
fn foreign_batch(o: &Opts, reqs: &[Request]) -> Result<Vec<Reply>, ClientError> {
    let f = compat::client::detect(&o.socket)?.ok_or(ClientError::Closed)?;
    reqs.iter()
        .map(|r| compat::client::request(&o.socket, f, r))
        .collect()
}
