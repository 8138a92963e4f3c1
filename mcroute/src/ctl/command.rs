//! smcroutectl's command syntax, parsed into [`Request`]s.
//!
//! Commands: `help [CMD]`, `version`, `flush`, `kill`, `reload` (`restart`), `show [routes|
//! groups|interfaces]`, `add IIF [SOURCE[/LEN]] GROUP[/LEN] OIF [OIF ...]`,
//! `remove`/`rem`/`del IIF [SOURCE[/LEN]] GROUP[/LEN] [OIF ...]`, `join`/`leave IIF
//! [SOURCE[/LEN]] GROUP[/LEN]`. A command (and a `show` argument) may be abbreviated to any
//! prefix that names one command: `s g` is `show groups`. Unlike smcroutectl, an ambiguous
//! prefix (`re`: reload, restart or remove?) is an error rather than the first match, so a
//! typo never removes a route, and an unknown word is an error rather than `show`.

use std::net::IpAddr;

use ipnet::IpNet;

use super::wire::{valid_ifname, validate_sg};
use super::{Request, ShowWhat};

/// What a command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Print usage (of one command, if named).
    Help(Option<&'static str>),
    /// Print the client's version (and ask the daemon for its own).
    Version,
    /// Send this request to the daemon.
    Request(Request),
    /// Trace the multicast path from `source` (`mtrace SOURCE [GROUP] [RECEIVER]`): run
    /// by the client itself ([`crate::service::dvmrp::client::mtrace`]), not the daemon.
    Mtrace {
        /// The source traced.
        source: std::net::Ipv4Addr,
        /// The group (0.0.0.0 when not given).
        group: std::net::Ipv4Addr,
        /// The receiver (this host when not given).
        receiver: Option<std::net::Ipv4Addr>,
    },
    /// Ask a DVMRP router for its interfaces and neighbours (`mrinfo ROUTER`).
    Mrinfo {
        /// The router.
        router: std::net::Ipv4Addr,
    },
}

/// A command line that cannot be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// No such command.
    #[error("unknown command {0:?} (try help)")]
    Unknown(String),
    /// A prefix of several commands.
    #[error("ambiguous command {word:?}: could be {}", candidates.join(", "))]
    Ambiguous {
        /// What was typed.
        word: String,
        /// What it could mean.
        candidates: Vec<&'static str>,
    },
    /// Wrong number of arguments.
    #[error("{cmd}: {why}; usage: {usage}")]
    Usage {
        /// The command.
        cmd: &'static str,
        /// What is wrong.
        why: String,
        /// Its usage line.
        usage: &'static str,
    },
    /// An argument that is not an address or interface.
    #[error("{0}")]
    BadArgument(String),
}

/// Commands recognised only when spelled out.
const EXACT_ONLY: &[&str] = &["debug", "log"];

/// The commands, their usage and help text.
pub const COMMANDS: &[(&str, &str, &str)] = &[
    ("help", "help [CMD]", "Show help for all commands, or one"),
    (
        "version",
        "version",
        "Show the version of the client and the daemon",
    ),
    (
        "flush",
        "flush",
        "Flush dynamic routes learned from (*,G) rules",
    ),
    ("kill", "kill", "Stop the daemon, like SIGTERM"),
    (
        "reload",
        "reload",
        "Reload the configuration file, like SIGHUP",
    ),
    ("restart", "restart", "The same as reload"),
    (
        "show",
        "show [routes|groups|interfaces|neighbors|mfc|compat|igmp [groups|interfaces]|status|version]",
        "Show routes (default), group memberships or interfaces; -d adds counters. \
         dvmrp-router also shows neighbors (neighbor), mfc (with prune state), compat \
         (mrouted's dump), igmp (queriers, and groups with their last reporter, expiry and \
         version) and status (a summary)",
    ),
    (
        "debug",
        "debug [LEVEL[,LEVEL...]|none]",
        "Show or set the debug levels at run time (dvmrp-router: mrouted's -d levels)",
    ),
    (
        "log",
        "log [none|err|notice|info|debug]",
        "Show or set the log level at run time",
    ),
    (
        "add",
        "add IIF [SOURCE[/LEN]] GROUP[/LEN] OIF [OIF ...]",
        "Add a route, or add outbound interfaces to an existing one",
    ),
    (
        "remove",
        "remove IIF [SOURCE[/LEN]] GROUP[/LEN] [OIF ...]",
        "Remove a route, or only the outbound interfaces given",
    ),
    (
        "rem",
        "rem IIF [SOURCE[/LEN]] GROUP[/LEN] [OIF ...]",
        "The same as remove",
    ),
    (
        "del",
        "del IIF [SOURCE[/LEN]] GROUP[/LEN] [OIF ...]",
        "The same as remove",
    ),
    (
        "join",
        "join IIF [SOURCE[/LEN]] GROUP[/LEN]",
        "Join a group on an interface (SSM with a source)",
    ),
    (
        "leave",
        "leave IIF [SOURCE[/LEN]] GROUP[/LEN]",
        "Leave a group joined with join",
    ),
    (
        "mtrace",
        "mtrace SOURCE [GROUP] [RECEIVER]",
        "Trace the multicast path from SOURCE to RECEIVER (this host by default) through \
         DVMRP routers (needs root: a raw IGMP socket)",
    ),
    (
        "mrinfo",
        "mrinfo ROUTER",
        "Show a DVMRP router's interfaces, neighbours and flags, as mrinfo (needs root)",
    ),
];

/// Finds the one entry of `names` that `word` names: an exact match or the only one it is a
/// prefix of.
fn resolve(word: &str, names: &[&'static str]) -> Result<&'static str, CommandError> {
    if let Some(n) = names.iter().find(|n| **n == word) {
        return Ok(n);
    }
    let c: Vec<&'static str> = names
        .iter()
        .copied()
        .filter(|n| !word.is_empty() && n.starts_with(word))
        .collect();
    // Aliases of one command are not an ambiguity.
    fn canonical(n: &str) -> &str {
        match n {
            "rem" | "del" => "remove",
            "restart" => "reload",
            "neighbours" => "neighbors",
            "ifaces" => "interfaces",
            other => other,
        }
    }
    match c.as_slice() {
        [] => Err(CommandError::Unknown(word.to_string())),
        [one] => Ok(one),
        [first, rest @ ..] if rest.iter().all(|n| canonical(n) == canonical(first)) => Ok(first),
        _ => Err(CommandError::Ambiguous {
            word: word.to_string(),
            candidates: c,
        }),
    }
}

/// The usage line of command `name`.
pub fn usage(name: &str) -> &'static str {
    COMMANDS
        .iter()
        .find(|c| c.0 == name)
        .map(|c| c.1)
        .unwrap_or("help")
}

fn parse_net(s: &str, what: &str) -> Result<IpNet, CommandError> {
    let net = match s.split_once('/') {
        Some((a, l)) => {
            let addr: IpAddr = a
                .parse()
                .map_err(|_| CommandError::BadArgument(format!("invalid {what} address: {a}")))?;
            let len: u8 = l.parse().map_err(|_| {
                CommandError::BadArgument(format!("invalid {what} prefix length: {l}"))
            })?;
            IpNet::new(addr, len).map_err(|_| {
                CommandError::BadArgument(format!("invalid {what} prefix length: {l}"))
            })?
        }
        None => IpNet::from(
            s.parse::<IpAddr>()
                .map_err(|_| CommandError::BadArgument(format!("invalid {what} address: {s}")))?,
        ),
    };
    Ok(net)
}

fn iface(s: &str) -> Result<String, CommandError> {
    if valid_ifname(s) {
        Ok(s.to_string())
    } else {
        Err(CommandError::BadArgument(format!(
            "invalid interface name: {s:?}"
        )))
    }
}

fn is_group(s: &str) -> bool {
    let a = s.split_once('/').map_or(s, |(a, _)| a);
    a.parse::<IpAddr>().is_ok_and(|a| a.is_multicast())
}

/// Inbound interface, source, group and the remaining words.
type SgArgs<'a> = (String, Option<IpNet>, IpNet, &'a [&'a str]);

/// Parses `IIF [SOURCE] GROUP REST...` into its parts.
fn sg_args<'a>(cmd: &'static str, args: &'a [&'a str]) -> Result<SgArgs<'a>, CommandError> {
    let usage_err = |why: &str| CommandError::Usage {
        cmd,
        why: why.to_string(),
        usage: usage(cmd),
    };
    let (iif, rest) = args
        .split_first()
        .ok_or_else(|| usage_err("missing inbound interface"))?;
    let iif = iface(iif)?;
    let (first, rest) = rest
        .split_first()
        .ok_or_else(|| usage_err("missing group"))?;
    let (source, group, rest) = if is_group(first) {
        (None, parse_net(first, "group")?, rest)
    } else {
        let source = parse_net(first, "source")?;
        let (g, rest) = rest.split_first().ok_or_else(|| {
            CommandError::BadArgument(format!("invalid multicast group: {first}"))
        })?;
        if !is_group(g) {
            return Err(CommandError::BadArgument(format!(
                "invalid multicast group: {g}"
            )));
        }
        (Some(source), parse_net(g, "group")?, rest)
    };
    validate_sg(&source, &group)
        .map_err(|e| CommandError::BadArgument(e.to_string().replace("malformed message: ", "")))?;
    Ok((iif, source, group, rest))
}

/// Parses one command line (already split into words; options removed).
///
/// ```
/// use mcroute::ctl::command::{parse, Command};
/// use mcroute::ctl::{Request, ShowWhat};
/// assert_eq!(
///     parse(&["s", "g"], false).unwrap(),
///     Command::Request(Request::Show { what: ShowWhat::Groups, detail: false })
/// );
/// ```
pub fn parse(words: &[&str], detail: bool) -> Result<Command, CommandError> {
    let Some((first, args)) = words.split_first() else {
        return Ok(Command::Request(Request::Show {
            what: ShowWhat::Routes,
            detail,
        }));
    };
    // mroutectl's `debug` and `log` are taken spelled out only, so that smcroutectl's
    // abbreviations (`d` for del, `l` for leave) keep their meaning.
    let names: Vec<&'static str> = COMMANDS
        .iter()
        .map(|c| c.0)
        .filter(|n| !EXACT_ONLY.contains(n) || n == first)
        .collect();
    let cmd = resolve(first, &names)?;
    let no_args = |r: Request| {
        if args.is_empty() {
            Ok(Command::Request(r))
        } else {
            Err(CommandError::Usage {
                cmd,
                why: format!("unexpected argument {:?}", args[0]),
                usage: usage(cmd),
            })
        }
    };
    match cmd {
        "help" => match args.first() {
            None => Ok(Command::Help(None)),
            Some(w) => {
                let all: Vec<&'static str> = COMMANDS.iter().map(|c| c.0).collect();
                Ok(Command::Help(Some(resolve(w, &all)?)))
            }
        },
        "version" => Ok(Command::Version),
        "mtrace" => {
            let usage_err = |why: String| CommandError::Usage {
                cmd,
                why,
                usage: usage(cmd),
            };
            let addr = |w: &str| {
                w.parse::<std::net::Ipv4Addr>()
                    .map_err(|_| CommandError::BadArgument(format!("invalid IPv4 address: {w}")))
            };
            let (source, rest) = match args.split_first() {
                Some((s, rest)) => (addr(s)?, rest),
                None => return Err(usage_err("SOURCE missing".into())),
            };
            let (group, rest) = match rest.split_first() {
                Some((g, r)) if is_group(g) => (addr(g)?, r),
                _ => (std::net::Ipv4Addr::UNSPECIFIED, rest),
            };
            let receiver = match rest {
                [] => None,
                [r] => Some(addr(r)?),
                [_, x, ..] => return Err(usage_err(format!("unexpected argument {x:?}"))),
            };
            Ok(Command::Mtrace {
                source,
                group,
                receiver,
            })
        }
        "mrinfo" => match args {
            [r] => Ok(Command::Mrinfo {
                router: r
                    .parse()
                    .map_err(|_| CommandError::BadArgument(format!("invalid IPv4 address: {r}")))?,
            }),
            _ => Err(CommandError::Usage {
                cmd,
                why: "one ROUTER address".into(),
                usage: usage(cmd),
            }),
        },
        "flush" => no_args(Request::Flush),
        "kill" => no_args(Request::Kill),
        "reload" | "restart" => no_args(Request::Reload),
        "show" => show(args, detail),
        "add" | "remove" | "rem" | "del" => route(cmd, args),
        "join" | "leave" => join(cmd, args),
        "debug" | "log" => {
            if args.len() > 1 {
                return Err(CommandError::Usage {
                    cmd,
                    why: format!("unexpected argument {:?}", args[1]),
                    usage: usage(cmd),
                });
            }
            let value = args.first().map(|s| s.to_string());
            Ok(Command::Request(if cmd == "debug" {
                Request::Debug { levels: value }
            } else {
                Request::Log { level: value }
            }))
        }
        other => Err(CommandError::Unknown(other.to_string())),
    }
}

/// `show [WHAT]`.
fn show(args: &[&str], detail: bool) -> Result<Command, CommandError> {
    let cmd = "show";
    let what = match args.first() {
        None => ShowWhat::Routes,
        // smcroutectl's words first, so that their abbreviations (`s i`) keep meaning what
        // they meant; mroutectl's views then (`s ig`, `s st`).
        Some(w) => match resolve(
            w,
            &[
                "routes",
                "groups",
                "interfaces",
                "neighbors",
                "neighbours",
                "mfc",
                "compat",
            ],
        )
        .or_else(|_| resolve(w, &["igmp", "status", "version"]))?
        {
            "groups" => ShowWhat::Groups,
            "interfaces" => ShowWhat::Interfaces,
            "neighbors" | "neighbours" => ShowWhat::Neighbors,
            "mfc" => ShowWhat::Mfc,
            "compat" => ShowWhat::Compat,
            "status" => ShowWhat::Status,
            "version" if args.len() == 1 => return Ok(Command::Version),
            "igmp" => match args.get(1) {
                None => ShowWhat::Igmp,
                Some(w) => {
                    let what = match resolve(w, &["groups", "interfaces", "ifaces"])? {
                        "groups" => ShowWhat::IgmpGroups,
                        _ => ShowWhat::IgmpInterfaces,
                    };
                    if let Some(extra) = args.get(2) {
                        return Err(CommandError::Usage {
                            cmd,
                            why: format!("unexpected argument {extra:?}"),
                            usage: usage(cmd),
                        });
                    }
                    return Ok(Command::Request(Request::Show { what, detail }));
                }
            },
            _ => ShowWhat::Routes,
        },
    };
    if args.len() > 1 {
        return Err(CommandError::Usage {
            cmd,
            why: format!("unexpected argument {:?}", args[1]),
            usage: usage(cmd),
        });
    }
    Ok(Command::Request(Request::Show { what, detail }))
}

/// `add` and `remove` (`rem`, `del`): `IIF [SOURCE] GROUP [OIF...]`.
fn route(cmd: &'static str, args: &[&str]) -> Result<Command, CommandError> {
    if cmd == "add" {
        let (iif, source, group, rest) = sg_args("add", args)?;
        if rest.is_empty() && source.is_none() {
            return Err(CommandError::Usage {
                cmd,
                why: "a (*,G) route needs at least one outbound interface".into(),
                usage: usage(cmd),
            });
        }
        let oifs = rest.iter().map(|o| iface(o)).collect::<Result<_, _>>()?;
        return Ok(Command::Request(Request::Add {
            iif,
            source,
            group,
            oifs,
        }));
    }
    let (iif, source, group, rest) = sg_args("remove", args)?;
    let oifs = rest.iter().map(|o| iface(o)).collect::<Result<_, _>>()?;
    Ok(Command::Request(Request::Remove {
        iif,
        source,
        group,
        oifs,
    }))
}

/// `join` and `leave`: `IIF [SOURCE] GROUP`.
fn join(cmd: &'static str, args: &[&str]) -> Result<Command, CommandError> {
    let c: &'static str = if cmd == "join" { "join" } else { "leave" };
    let (iif, source, group, rest) = sg_args(c, args)?;
    if let Some(extra) = rest.first() {
        return Err(CommandError::Usage {
            cmd: c,
            why: format!("unexpected argument {extra:?}"),
            usage: usage(c),
        });
    }
    Ok(Command::Request(if c == "join" {
        Request::Join { iif, source, group }
    } else {
        Request::Leave { iif, source, group }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(w: &[&str]) -> Request {
        match parse(w, false).unwrap() {
            Command::Request(r) => r,
            other => panic!("{other:?}"),
        }
    }

    fn net(s: &str) -> IpNet {
        parse_net(s, "t").unwrap()
    }

    #[test]
    fn add_forms() {
        assert_eq!(
            req(&["add", "eth0", "225.1.2.3", "eth1", "eth2"]),
            Request::Add {
                iif: "eth0".into(),
                source: None,
                group: net("225.1.2.3"),
                oifs: vec!["eth1".into(), "eth2".into()]
            }
        );
        assert_eq!(
            req(&["a", "eth0", "192.0.2.0/24", "225.1.2.0/24", "eth+"]),
            Request::Add {
                iif: "eth0".into(),
                source: Some(net("192.0.2.0/24")),
                group: net("225.1.2.0/24"),
                oifs: vec!["eth+".into()]
            }
        );
        // (S,G) with no OIF: a stop filter, as smcroutectl allows.
        assert!(
            matches!(req(&["add", "a1", "192.0.2.1", "225.1.1.1"]), Request::Add { oifs, .. } if oifs.is_empty())
        );
        assert!(parse(&["add", "a1", "225.1.1.1"], false).is_err());
        assert_eq!(
            parse(&["add", "a1", "192.0.2.4", "a2"], false)
                .unwrap_err()
                .to_string(),
            "invalid multicast group: a2"
        );
        assert_eq!(
            parse(&["add", "a1", "999.1.1.1", "225.1.1.1", "a2"], false)
                .unwrap_err()
                .to_string(),
            "invalid source address: 999.1.1.1"
        );
        assert!(
            parse(&["add", "a1", "2001:db8::1", "225.1.1.1", "a2"], false)
                .unwrap_err()
                .to_string()
                .contains("different address families")
        );
    }

    #[test]
    fn remove_aliases_and_join() {
        for w in ["remove", "rem", "del", "d"] {
            assert!(
                matches!(req(&[w, "a1", "225.1.1.1"]), Request::Remove { .. }),
                "{w}"
            );
        }
        assert_eq!(
            req(&["j", "a1", "192.0.2.1", "232.1.1.1"]),
            Request::Join {
                iif: "a1".into(),
                source: Some(net("192.0.2.1")),
                group: net("232.1.1.1")
            }
        );
        assert!(matches!(
            req(&["leave", "a1", "ff0e::1"]),
            Request::Leave { .. }
        ));
        assert!(parse(&["join", "a1", "225.1.1.1", "extra"], false).is_err());
    }

    #[test]
    fn abbreviations() {
        assert_eq!(
            req(&["s"]),
            Request::Show {
                what: ShowWhat::Routes,
                detail: false
            }
        );
        assert_eq!(
            req(&["sh", "i"]),
            Request::Show {
                what: ShowWhat::Interfaces,
                detail: false
            }
        );
        for (words, what) in [
            (&["show", "neighbors"][..], ShowWhat::Neighbors),
            (&["show", "neighbours"][..], ShowWhat::Neighbors),
            (&["s", "n"][..], ShowWhat::Neighbors),
            (&["show", "mfc"][..], ShowWhat::Mfc),
            (&["show", "compat"][..], ShowWhat::Compat),
            // mroutectl's views and its `neighbor`.
            (&["show", "neighbor"][..], ShowWhat::Neighbors),
            (&["show", "igmp"][..], ShowWhat::Igmp),
            (&["show", "igmp", "groups"][..], ShowWhat::IgmpGroups),
            (&["s", "ig", "i"][..], ShowWhat::IgmpInterfaces),
            (&["show", "igmp", "ifaces"][..], ShowWhat::IgmpInterfaces),
            (&["show", "status"][..], ShowWhat::Status),
            (&["s", "st"][..], ShowWhat::Status),
            // smcroutectl's abbreviations keep their meaning.
            (&["s", "i"][..], ShowWhat::Interfaces),
        ] {
            assert_eq!(
                req(words),
                Request::Show {
                    what,
                    detail: false
                }
            );
        }
        assert_eq!(req(&["f"]), Request::Flush);
        assert_eq!(req(&["k"]), Request::Kill);
        assert_eq!(req(&["rel"]), Request::Reload);
        assert_eq!(req(&["restart"]), Request::Reload);
        assert!(matches!(
            parse(&["re"], false),
            Err(CommandError::Ambiguous { .. })
        ));
        assert_eq!(
            parse(&["frobnicate"], false),
            Err(CommandError::Unknown("frobnicate".into()))
        );
        assert_eq!(parse(&["help", "a"], false), Ok(Command::Help(Some("add"))));
        // mroutectl's run-time commands, spelled out only (`d` stays del, `l` leave).
        assert_eq!(
            req(&["debug", "peers,routes"]),
            Request::Debug {
                levels: Some("peers,routes".into())
            }
        );
        assert_eq!(req(&["log"]), Request::Log { level: None });
        assert!(matches!(
            req(&["l", "a1", "225.1.1.1"]),
            Request::Leave { .. }
        ));
        assert_eq!(parse(&["show", "version"], false), Ok(Command::Version));
        assert_eq!(
            parse(&["help", "debug"], false),
            Ok(Command::Help(Some("debug")))
        );
        assert_eq!(
            parse(&[], true),
            Ok(Command::Request(Request::Show {
                what: ShowWhat::Routes,
                detail: true
            }))
        );
    }
}
