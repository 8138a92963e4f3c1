use super::*;
use proptest::prelude::*;
use std::fs;

fn ok(text: &str) -> Config {
    match parse(text) {
        Ok(c) => c,
        Err(e) => panic!("unexpected errors:\n{e}"),
    }
}

fn errors(text: &str) -> Vec<String> {
    match parse(text) {
        Ok(c) => panic!("expected errors, parsed {c:?}"),
        Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
    }
}

fn one_error(text: &str) -> String {
    let e = errors(text);
    assert_eq!(e.len(), 1, "{e:?}");
    e.into_iter().next().unwrap()
}

fn sp(line: u32, column: u32) -> Span {
    Span::new(FileId(0), line, column)
}

fn v4(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn n4(s: &str) -> Ipv4Net {
    s.parse().unwrap()
}

const MANUAL_EXAMPLE: &str = "\
#
# mrouted.conf example
#
# Name our boundaries to make it easier.
name LOCAL 239.255.0.0/16
name EE 239.254.0.0/16
# le1 is our gateway to compsci, don't forward our
# local groups to them.
phyint le1 boundary EE
# le2 is our interface on the classroom net, it has four
# different length subnets on it.
# Note that you can use either an IP address or an interface name
phyint 192.0.2.38 boundary EE altnet 198.51.100.0/26
        altnet 198.51.100.128/26 altnet 203.0.113.0/24
# atm0 is our ATM interface, which doesn't properly
# support multicasting.
phyint atm0 disable
# This is an internal tunnel to another EE subnet.
# Remove the default tunnel rate limit, since this
# tunnel is over Ethernets.
tunnel 192.0.2.4 198.51.100.101 metric 1 threshold 1 rate_limit 0
# This is our tunnel to the outside world.
# Careful with those boundaries, Eugene.
tunnel 192.0.2.4 203.0.113.13 metric 1 threshold 32
        boundary LOCAL boundary EE
";

#[test]
fn manual_page_example() {
    let c = ok(MANUAL_EXAMPLE);
    assert_eq!(c.names.len(), 2);
    assert_eq!(c.names[0].name.value, "LOCAL");
    assert_eq!(c.names[0].scope.value, n4("239.255.0.0/16"));
    assert_eq!(c.names[0].span, sp(5, 1));
    assert_eq!(c.phyints.len(), 3);
    assert_eq!(
        c.phyints[0].interface.value,
        InterfaceRef::Name("le1".into())
    );
    assert_eq!(
        c.phyints[0].options.boundaries[0].value,
        Boundary::Name("EE".into())
    );
    assert_eq!(
        c.resolve_boundary(&c.phyints[0].options.boundaries[0].value),
        Some(n4("239.254.0.0/16"))
    );
    let le2 = &c.phyints[1];
    assert_eq!(le2.interface.value, InterfaceRef::Addr(v4("192.0.2.38")));
    assert_eq!(le2.altnets.len(), 3);
    assert_eq!(
        le2.altnets[1],
        Spanned::new(
            AltNet {
                addr: v4("198.51.100.128"),
                prefix_len: Some(26)
            },
            sp(14, 16)
        )
    );
    assert_eq!(c.phyints[2].state.unwrap().value, VifState::Disable);
    assert_eq!(c.tunnels.len(), 2);
    let t0 = &c.tunnels[0];
    assert_eq!(t0.local.value, InterfaceRef::Addr(v4("192.0.2.4")));
    assert_eq!(t0.remote.value, TunnelRemote::Addr(v4("198.51.100.101")));
    assert_eq!(t0.rate_limit(), 0);
    assert_eq!(t0.options.threshold(), 1);
    let t1 = &c.tunnels[1];
    assert_eq!(t1.rate_limit(), 500);
    assert_eq!(t1.options.threshold(), 32);
    assert_eq!(t1.options.boundaries.len(), 2);
    assert_eq!(t1.options.boundaries[1].span, sp(25, 33));
}

#[test]
fn defaults() {
    let c = ok("");
    assert_eq!(c.cache_lifetime(), 300);
    assert_eq!(c.prune_lifetime(), 7200);
    assert_eq!(c.igmp_query_interval(), 125);
    assert_eq!(c.igmp_query_response_interval(), 10);
    assert_eq!(c.igmp_query_last_member_interval(), 1);
    assert_eq!(c.igmp_robustness(), 2);
    assert_eq!(c.router_timeout(), 255);
    assert_eq!(c.group_membership_interval(), 260);
    let c = ok("phyint eth0");
    assert_eq!(c.phyints[0].options.metric(), 1);
    assert_eq!(c.phyints[0].options.threshold(), 1);
    assert_eq!(c.phyints[0].options.advert_metric(), 0);
    assert_eq!(c.phyints[0].rate_limit(), 0);
    assert_eq!(c.phyints[0].state, None);
}

#[test]
fn global_statements_both_spellings() {
    for (a, b) in [
        ("cache_lifetime", "prune_lifetime"),
        ("cache-lifetime", "prune-lifetime"),
    ] {
        let c = ok(&format!("{a} 600\n{b} 3600\n"));
        assert_eq!(c.cache_lifetime(), 600);
        assert_eq!(c.cache_lifetime.unwrap().span, sp(1, a.len() as u32 + 2));
        assert_eq!(c.prune_lifetime(), 3600);
    }
    let c = ok("igmp-query-interval 60 igmp-query-response-interval 5\n\
                igmp-query-last-member-interval 2 igmp-robustness 3 router-timeout 70\n\
                pruning off noflood rexmit-prunes off no router-alert no phyint\n");
    assert_eq!(c.igmp_query_interval(), 60);
    assert_eq!(c.igmp_query_response_interval(), 5);
    assert_eq!(c.igmp_query_last_member_interval(), 2);
    assert_eq!(c.igmp_robustness(), 3);
    assert_eq!(c.router_timeout(), 70);
    assert_eq!(c.group_membership_interval(), 185);
    assert!(!c.pruning.unwrap().value);
    assert_eq!(c.noflood, Some(sp(3, 13)));
    assert!(!c.rexmit_prunes.unwrap().value);
    assert_eq!(c.no_router_alert, Some(sp(3, 39)));
    assert_eq!(c.no_phyint, Some(sp(3, 55)));
    let c = ok("pruning yes rexmit_prunes\n");
    assert!(c.pruning.unwrap().value);
    assert!(c.rexmit_prunes.unwrap().value);
    // `no` after rexmit-prunes is the next statement when `phyint` follows.
    let c = ok("rexmit-prunes no phyint");
    assert!(c.rexmit_prunes.unwrap().value);
    assert!(c.no_phyint.is_some());
    let c = ok("rexmit-prunes no phyint phyint eth0");
    assert!(c.rexmit_prunes.unwrap().value);
    assert!(c.no_phyint.is_some());
    assert_eq!(c.phyints.len(), 1);
    let c = ok("rexmit-prunes no\nphyint eth0");
    assert!(!c.rexmit_prunes.unwrap().value);
    assert_eq!(c.phyints.len(), 1);
}

#[test]
fn phyint_options_values() {
    let c = ok("phyint eth0\n\
                  enable metric 3 advert-metric 2 threshold 16 rate-limit 1000\n\
                  igmpv2 passive force-leaf noflood notransit blaster allow-nonpruners\n\
                  prune-lifetime 600 rexmit-prunes on static-group 239.1.2.3\n\
                  static-group 225.1.1.1 altnet 192.0.2.0 boundary 239.2.0.0/16\n\
                  accept 198.51.100.0/24 exact default bidir\n\
                phyint eth1 force_leaf off rexmit_prunes advert_metric 0 rate_limit 5 allow_nonpruners\n\
                phyint 192.0.2.1 igmpv1\n\
                phyint eth3 igmpv3 deny 203.0.113.0/24 deny 198.51.100.0/25 exact\n");
    assert_eq!(c.phyints.len(), 4);
    let p = &c.phyints[0];
    assert_eq!(p.state.unwrap().value, VifState::Enable);
    assert_eq!(p.options.metric(), 3);
    assert_eq!(p.options.advert_metric(), 2);
    assert_eq!(p.options.threshold(), 16);
    assert_eq!(p.rate_limit(), 1000);
    assert_eq!(p.igmp_version.unwrap().value, IgmpVersion::V2);
    assert!(p.options.passive.is_some());
    assert!(p.force_leaf.unwrap().value);
    assert!(p.options.noflood.is_some());
    assert!(p.options.notransit.is_some());
    assert!(p.options.blaster.is_some());
    assert!(p.options.allow_nonpruners.is_some());
    assert_eq!(p.options.prune_lifetime.unwrap().value, 600);
    assert!(p.options.rexmit_prunes.unwrap().value);
    assert_eq!(
        p.static_groups.iter().map(|g| g.value).collect::<Vec<_>>(),
        [v4("239.1.2.3"), v4("225.1.1.1")]
    );
    assert_eq!(
        p.altnets[0].value,
        AltNet {
            addr: v4("192.0.2.0"),
            prefix_len: None
        }
    );
    assert_eq!(
        p.options.boundaries[0].value,
        Boundary::Scope(n4("239.2.0.0/16"))
    );
    let f = p.options.filter.as_ref().unwrap();
    assert_eq!(f.mode, FilterMode::Accept);
    // (`\` at the end of a Rust string line drops the next line's indentation.)
    assert_eq!(f.span, sp(6, 1));
    assert_eq!(
        f.routes.iter().map(|r| r.value).collect::<Vec<_>>(),
        [
            FilterRoute {
                prefix: n4("198.51.100.0/24"),
                exact: true
            },
            FilterRoute {
                prefix: n4("0.0.0.0/0"),
                exact: false
            }
        ]
    );
    assert!(f.bidir.is_some());
    // Global-looking keywords inside a phyint belong to it.
    assert_eq!(c.noflood, None);
    assert_eq!(c.prune_lifetime, None);
    let p = &c.phyints[1];
    assert!(!p.force_leaf.unwrap().value);
    assert!(p.options.rexmit_prunes.unwrap().value);
    assert_eq!(p.options.advert_metric.unwrap().value, 0);
    assert_eq!(p.rate_limit(), 5);
    assert_eq!(
        c.phyints[2].interface.value,
        InterfaceRef::Addr(v4("192.0.2.1"))
    );
    assert_eq!(c.phyints[2].igmp_version.unwrap().value, IgmpVersion::V1);
    let f = c.phyints[3].options.filter.as_ref().unwrap();
    assert_eq!(f.mode, FilterMode::Deny);
    assert_eq!(f.routes.len(), 2, "two deny clauses add to one filter");
    assert!(f.routes[1].value.exact);
}

#[test]
fn tunnels() {
    let c = ok(
        "tunnel eth0 mrouter.example.net metric 4 threshold 64 rate-limit 200\n\
                  boundary 239.1.0.0/16 passive noflood prune-lifetime 300 accept default\n\
                tunnel 192.0.2.1 203.0.113.9\n",
    );
    let t = &c.tunnels[0];
    assert_eq!(t.local.value, InterfaceRef::Name("eth0".into()));
    assert_eq!(
        t.remote.value,
        TunnelRemote::Host("mrouter.example.net".into())
    );
    assert_eq!(t.remote.span, sp(1, 13));
    assert_eq!(t.options.metric(), 4);
    assert_eq!(t.rate_limit(), 200);
    assert!(t.options.passive.is_some());
    assert_eq!(t.options.prune_lifetime.unwrap().value, 300);
    assert_eq!(c.tunnels[1].rate_limit(), 500);
    assert_eq!(c.noflood, None);
}

#[test]
fn block_ends_at_top_level_keyword() {
    let c = ok(
        "phyint eth0 metric 2\nname X 239.9.0.0/16\nphyint eth1 boundary X\ncache-lifetime 900\n",
    );
    assert_eq!(c.phyints.len(), 2);
    assert_eq!(c.cache_lifetime(), 900);
    assert_eq!(c.names.len(), 1);
    // A boundary name may be used before its definition.
    ok("phyint eth0 boundary LATER\nname LATER 239.8.0.0/16\n");
}

#[test]
fn comments_and_whitespace() {
    let c = ok("# head\n\n\tphyint\teth0 # metric 5\n  metric 2 # end\r\n\x0c");
    assert_eq!(c.phyints[0].options.metric(), 2);
    assert_eq!(c.phyints[0].options.metric.unwrap().span, sp(4, 10));
}

// ---- every error message -------------------------------------------------------------------

#[test]
fn error_unknown_keywords() {
    assert_eq!(
        one_error("cache_lifetme 300\n"),
        "<input>:1:1: unknown statement \"cache_lifetme\" (did you mean \"cache_lifetime\"?)"
    );
    assert_eq!(
        one_error("phyint eth0 metrc 3 threshold 2\n"),
        "<input>:1:13: unknown phyint option \"metrc\" (did you mean \"metric\"?)"
    );
    assert_eq!(
        one_error("tunnel 192.0.2.1 192.0.2.2 srcrt\n"),
        "<input>:1:28: unknown tunnel option \"srcrt\""
    );
    assert_eq!(
        one_error("phyint eth0 netmask 255.255.255.0 metric 2\n"),
        "<input>:1:13: unknown phyint option \"netmask\""
    );
    assert_eq!(
        one_error("frob 1 2 3\nphyint eth0\n"),
        "<input>:1:1: unknown statement \"frob\""
    );
}

#[test]
fn error_expected() {
    assert_eq!(
        one_error("phyint eth0 metric\n"),
        "<input>:2:1: expected a metric (1-31) after \"metric\", found end of file"
    );
    assert_eq!(
        one_error("phyint eth0 metric threshold 3\n"),
        "<input>:1:20: expected a metric (1-31) after \"metric\", found \"threshold\""
    );
    assert_eq!(
        one_error("phyint eth0 threshold x\n"),
        "<input>:1:23: expected a TTL threshold (1-255) after \"threshold\", found \"x\""
    );
    assert_eq!(
        one_error("pruning maybe\n"),
        "<input>:1:9: expected \"on\" or \"off\" after \"pruning\", found \"maybe\""
    );
    assert_eq!(
        one_error("no frills\n"),
        "<input>:1:4: expected \"phyint\" or \"router-alert\" after \"no\", found \"frills\""
    );
    assert_eq!(
        one_error("phyint\n"),
        "<input>:2:1: expected an interface name or address after \"phyint\", found end of file"
    );
    assert_eq!(
        one_error("phyint 192.0.2.300\n"),
        "<input>:1:8: expected an interface name or address after \"phyint\", found \"192.0.2.300\""
    );
    assert_eq!(
        one_error("tunnel 192.0.2.1 metric 3"),
        "<input>:1:18: expected a remote address or host name after the tunnel's local end, found \"metric\""
    );
    assert_eq!(
        one_error("tunnel 192.0.2.1 bad_host!"),
        "<input>:1:18: expected a remote address or host name after the tunnel's local end, found \"bad_host!\""
    );
    assert_eq!(
        one_error("name 239.1.0.0/16\n"),
        "<input>:1:6: expected a boundary name after \"name\", found \"239.1.0.0/16\""
    );
    assert_eq!(
        one_error("name X\n"),
        "<input>:2:1: expected a scoped range (239.x.x.x/LEN) after the boundary name, found end of file"
    );
    assert_eq!(
        one_error("name X 239.1.0.0\n"),
        "<input>:1:8: expected a scoped range (239.x.x.x/LEN) after the boundary name, found \"239.1.0.0\""
    );
    assert_eq!(
        one_error("phyint eth0 altnet nowhere\n"),
        "<input>:1:20: expected a network (ADDRESS/LEN) after \"altnet\", found \"nowhere\""
    );
    assert_eq!(
        one_error("phyint eth0 static-group 192.0.2.1\n"),
        "<input>:1:26: expected an IPv4 multicast group after \"static-group\", found \"192.0.2.1\""
    );
    assert_eq!(
        one_error("phyint eth0 accept metric 2\n"),
        "<input>:1:20: expected a route (ADDRESS/LEN or \"default\") after \"accept\", found \"metric\""
    );
    assert_eq!(
        one_error("phyint eth0 deny 192.0.2.1\n"),
        "<input>:1:18: expected a route (ADDRESS/LEN or \"default\") after \"deny\", found \"192.0.2.1\""
    );
    assert_eq!(
        one_error("phyint eth0 boundary\n"),
        "<input>:2:1: expected a boundary name or scoped range after \"boundary\", found end of file"
    );
    assert_eq!(
        one_error("cache-lifetime 5m\n"),
        "<input>:1:16: expected a number of seconds (60-86400) after \"cache-lifetime\", found \"5m\""
    );
}

#[test]
fn error_ranges() {
    let cases = [
        ("phyint eth0 metric 0", "metric 0 is out of range (1-31)"),
        ("phyint eth0 metric 32", "metric 32 is out of range (1-31)"),
        (
            "phyint eth0 advert-metric 32",
            "advert-metric 32 is out of range (0-31)",
        ),
        (
            "phyint eth0 threshold 0",
            "threshold 0 is out of range (1-255)",
        ),
        (
            "phyint eth0 threshold 256",
            "threshold 256 is out of range (1-255)",
        ),
        (
            "phyint eth0 rate-limit 100001",
            "rate-limit 100001 is out of range (0-100000)",
        ),
        (
            "phyint eth0 prune-lifetime 119",
            "prune-lifetime 119 is out of range (120-86400)",
        ),
        (
            "cache_lifetime 59",
            "cache-lifetime 59 is out of range (60-86400)",
        ),
        (
            "cache_lifetime 86401",
            "cache-lifetime 86401 is out of range (60-86400)",
        ),
        (
            "prune-lifetime 86401",
            "prune-lifetime 86401 is out of range (120-86400)",
        ),
        (
            "igmp-query-interval 0",
            "igmp-query-interval 0 is out of range (1-1024)",
        ),
        (
            "igmp-query-interval 1025",
            "igmp-query-interval 1025 is out of range (1-1024)",
        ),
        (
            "igmp-robustness 1",
            "igmp-robustness 1 is out of range (2-10)",
        ),
        (
            "igmp-robustness 11",
            "igmp-robustness 11 is out of range (2-10)",
        ),
        (
            "router-timeout 0",
            "router-timeout 0 is out of range (1-1024)",
        ),
        (
            "igmp-query-last-member-interval 2000",
            "igmp-query-last-member-interval 2000 is out of range (1-1024)",
        ),
        (
            "igmp-query-response-interval 0",
            "igmp-query-response-interval 0 is out of range (1-1024)",
        ),
        // Must be below the query interval.
        (
            "igmp-query-response-interval 125",
            "igmp-query-response-interval 125 is out of range (1-124)",
        ),
        (
            "igmp-query-interval 20 igmp-query-response-interval 20",
            "igmp-query-response-interval 20 is out of range (1-19)",
        ),
    ];
    for (text, message) in cases {
        let e = one_error(text);
        assert!(e.ends_with(message), "{text}: {e}");
        assert!(e.starts_with("<input>:1:"), "{e}");
    }
    ok("phyint eth0 metric 31 advert-metric 0 threshold 255 rate-limit 100000 prune-lifetime 86400\n\
        cache-lifetime 86400 igmp-robustness 10 igmp-query-response-interval 124");
}

#[test]
fn error_boundaries() {
    assert_eq!(
        one_error("phyint eth0 boundary NOPE\n"),
        "<input>:1:22: unknown boundary name \"NOPE\" (define it with \"name NOPE 239.x.x.x/len\")"
    );
    assert_eq!(
        one_error("name X 225.1.0.0/16\n"),
        "<input>:1:8: boundary \"225.1.0.0/16\" is not within the administratively scoped range 239.0.0.0/8"
    );
    assert_eq!(
        one_error("phyint eth0 boundary 239.0.0.0/7\n"),
        "<input>:1:22: boundary \"239.0.0.0/7\" is not within the administratively scoped range 239.0.0.0/8"
    );
    assert_eq!(
        one_error("phyint eth0 boundary 239.1.0.0/33\n"),
        "<input>:1:22: invalid prefix length in \"239.1.0.0/33\" (expected 0-32)"
    );
    assert_eq!(
        one_error("name X 239.1.0.0/16\nname X 239.2.0.0/16\n"),
        "<input>:2:6: boundary name \"X\" is already defined at line 1"
    );
}

#[test]
fn error_duplicates_and_conflicts() {
    assert_eq!(
        one_error("phyint eth0 metric 2\n metric 3\n"),
        "<input>:2:2: \"metric\" is given more than once (first at line 1, column 20)"
    );
    assert_eq!(
        one_error("cache-lifetime 300 cache_lifetime 400"),
        "<input>:1:20: \"cache_lifetime\" is given more than once (first at line 1, column 16)"
    );
    assert_eq!(
        one_error("no phyint no phyint"),
        "<input>:1:11: \"no phyint\" is given more than once (first at line 1, column 1)"
    );
    assert_eq!(
        one_error("phyint eth0 passive passive"),
        "<input>:1:21: \"passive\" is given more than once (first at line 1, column 13)"
    );
    assert_eq!(
        one_error("phyint eth0 accept default bidir bidir"),
        "<input>:1:34: \"bidir\" is given more than once (first at line 1, column 28)"
    );
    assert_eq!(
        one_error("phyint eth0 enable disable"),
        "<input>:1:20: \"disable\" conflicts with \"enable\" given before"
    );
    assert_eq!(
        one_error("phyint eth0 igmpv2 igmpv3"),
        "<input>:1:20: \"igmpv3\" conflicts with \"igmpv2\" given before"
    );
    assert_eq!(
        one_error("phyint eth0 igmpv2 igmpv2"),
        "<input>:1:20: \"igmpv2\" is given more than once (first at line 1, column 13)"
    );
}

#[test]
fn error_filters() {
    assert_eq!(
        one_error("phyint eth0 accept 192.0.2.0/24 deny 198.51.100.0/24"),
        "<input>:1:33: cannot both accept and deny routes on one interface"
    );
    assert_eq!(
        one_error("phyint eth0 bidir accept default"),
        "<input>:1:13: \"bidir\" must follow an accept or deny filter"
    );
    assert_eq!(
        one_error("phyint eth0 accept 192.0.2.0/40"),
        "<input>:1:20: invalid prefix length in \"192.0.2.0/40\" (expected 0-32)"
    );
}

#[test]
fn error_not_allowed_on_tunnels() {
    for (word, value) in [
        ("enable", ""),
        ("disable", ""),
        ("altnet", " 192.0.2.0/24"),
        ("igmpv2", ""),
        ("force-leaf", ""),
        ("static-group", " 239.1.1.1"),
    ] {
        assert_eq!(
            one_error(&format!(
                "tunnel 192.0.2.1 198.51.100.1 {word}{value} metric 2"
            )),
            format!("<input>:1:31: \"{word}\" is not allowed in a tunnel")
        );
    }
}

#[test]
fn error_invalid_interface() {
    assert_eq!(
        one_error("phyint averyveryverylongname0\n"),
        "<input>:1:8: invalid interface name \"averyveryverylongname0\": longer than 15 bytes"
    );
}

#[test]
fn errors_are_collected_in_order() {
    let e = errors(
        "phyint eth0 metric 40\n\
         phyint eth1 boundary NOWHERE threshold 0\n\
         bogus\n\
         tunnel 192.0.2.1 198.51.100.2 enable\n",
    );
    assert_eq!(
        e,
        [
            "<input>:1:20: metric 40 is out of range (1-31)",
            "<input>:2:22: unknown boundary name \"NOWHERE\" (define it with \"name NOWHERE 239.x.x.x/len\")",
            "<input>:2:40: threshold 0 is out of range (1-255)",
            // Free-form: the phyint of line 2 goes on until the next statement.
            "<input>:3:1: unknown phyint option \"bogus\"",
            "<input>:4:31: \"enable\" is not allowed in a tunnel",
        ]
    );
    let (c, e) = parse_source(
        "phyint eth0 metric 40 threshold 3",
        FileId(2),
        Path::new("/etc/mrouted.conf"),
    );
    assert_eq!(e.len(), 1);
    assert_eq!(
        e[0].to_string(),
        "/etc/mrouted.conf:1:20: metric 40 is out of range (1-31)"
    );
    assert_eq!(c.phyints[0].options.threshold(), 3);
    assert_eq!(c.phyints[0].span, Span::new(FileId(2), 1, 1));
}

#[test]
fn unknown_word_recovery_gives_one_error() {
    // "metrik 3" is one mistake: the 3 is skipped with it.
    assert_eq!(errors("phyint eth0 metrik 3 threshold 2").len(), 1);
    let e = parse("phyint eth0 metrik 3 threshold 2").unwrap_err();
    assert!(matches!(
        &e.0[0].kind,
        ErrorKind::UnknownKeyword {
            suggestion: Some("metric"),
            ..
        }
    ));
}

#[test]
fn load_from_disk() {
    let dir = std::env::temp_dir().join(format!("mcroute-mrouted-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join("mrouted.conf");
    fs::write(&path, MANUAL_EXAMPLE).unwrap();
    assert_eq!(load(&path).unwrap(), ok(MANUAL_EXAMPLE));
    fs::write(&path, "phyint eth0 metric 99\n").unwrap();
    let e = load(&path).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{}:1:20: metric 99 is out of range (1-31)", path.display())
    );
    let missing = dir.join("none.conf");
    let e = load(&missing).unwrap_err();
    assert!(matches!(
        e.0[0].kind,
        ErrorKind::Io {
            kind: std::io::ErrorKind::NotFound,
            ..
        }
    ));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn load_refuses_bytes_that_are_not_utf8_fifos_and_devices() {
    let dir = std::env::temp_dir().join(format!("mcroute-mrouted-bad-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join("mrouted.conf");
    fs::write(&path, b"phyint eth0\n  phyint e\xe9th1 disable\n").unwrap();
    let e = load(&path).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}:2:11: invalid UTF-8 (byte 0xe9): configuration files must be UTF-8 text",
            path.display()
        )
    );
    let fifo = dir.join("fifo.conf");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let e = load(&fifo).unwrap_err();
    assert!(
        matches!(
            e.0[0].kind,
            ErrorKind::NotRegularFile { what: "a FIFO", .. }
        ),
        "{e}"
    );
    let e = load(Path::new("/dev/zero")).unwrap_err();
    assert!(
        matches!(
            e.0[0].kind,
            ErrorKind::NotRegularFile {
                what: "a character device",
                ..
            }
        ),
        "{e}"
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn garbage_gives_a_bounded_number_of_errors() {
    let garbage = "phyint % tunnel ! metric x\n".repeat(5000);
    let e = parse(&garbage).unwrap_err();
    assert_eq!(e.len(), crate::config::MAX_ERRORS + 1);
    assert!(e
        .0
        .last()
        .unwrap()
        .to_string()
        .ends_with("more error(s) not shown"));
}

#[test]
fn printer_output() {
    let c = ok("cache_lifetime 600 name LOCAL 239.255.0.0/16 no phyint\n\
                tunnel 192.0.2.1 peer.example rate_limit 0\n\
                phyint eth0 boundary LOCAL altnet 192.0.2.0 force_leaf deny default exact bidir\n");
    assert_eq!(
        c.to_string(),
        "cache-lifetime 600\n\
         no phyint\n\
         name LOCAL 239.255.0.0/16\n\
         phyint eth0 altnet 192.0.2.0 force-leaf on boundary LOCAL deny 0.0.0.0/0 exact bidir\n\
         tunnel 192.0.2.1 peer.example rate-limit 0\n"
    );
}

#[test]
fn weird_input_does_not_panic() {
    for text in [
        "\u{0}",
        "phyint",
        "tunnel",
        "tunnel eth0",
        "name",
        "no",
        "accept",
        "phyint eth0 accept",
        "phyint eth0 accept exact",
        "phyint eth0 exact",
        "phyint eth0 force-leaf no",
        "rexmit-prunes no",
        "phyint 1.2.3",
        "phyint eth0 boundary 239.1.1.1/",
        "phyint eth0 altnet 192.0.2.1/99999999999999999999",
        "\u{feff}phyint eth0",
    ] {
        let _ = parse(text);
    }
}

// ---- property tests ---------------------------------------------------------------------------

fn u() -> Span {
    Span::default()
}

fn arb_iface() -> impl Strategy<Value = InterfaceRef> {
    prop_oneof![
        "[a-z]{1,6}[0-9]".prop_map(InterfaceRef::Name),
        any::<u8>().prop_map(|h| InterfaceRef::Addr(Ipv4Addr::new(192, 0, 2, h))),
    ]
}

fn arb_remote() -> impl Strategy<Value = TunnelRemote> {
    prop_oneof![
        any::<u8>().prop_map(|h| TunnelRemote::Addr(Ipv4Addr::new(203, 0, 113, h))),
        "[a-z]{1,8}\\.example".prop_map(TunnelRemote::Host),
    ]
}

fn arb_scope() -> impl Strategy<Value = Ipv4Net> {
    (any::<[u8; 3]>(), 8u8..=32)
        .prop_map(|(b, len)| Ipv4Net::new(Ipv4Addr::new(239, b[0], b[1], b[2]), len).unwrap())
}

fn opt_span() -> impl Strategy<Value = Option<Span>> {
    any::<bool>().prop_map(|b| b.then(u))
}

fn opt<T: std::fmt::Debug + Clone + 'static>(
    s: impl Strategy<Value = T> + 'static,
) -> impl Strategy<Value = Option<Spanned<T>>> {
    prop::option::of(s.prop_map(Spanned::unspanned))
}

fn arb_options(names: Vec<String>) -> impl Strategy<Value = VifOptions> {
    let boundary = if names.is_empty() {
        arb_scope().prop_map(Boundary::Scope).boxed()
    } else {
        prop_oneof![
            arb_scope().prop_map(Boundary::Scope),
            prop::sample::select(names).prop_map(Boundary::Name),
        ]
        .boxed()
    };
    let filter = prop::option::of((
        any::<bool>(),
        prop::collection::vec(
            ((any::<[u8; 4]>(), 0u8..=32), any::<bool>()).prop_map(|((a, len), exact)| {
                Spanned::unspanned(FilterRoute {
                    prefix: Ipv4Net::new(Ipv4Addr::from(a), len).unwrap(),
                    exact,
                })
            }),
            1..4,
        ),
        any::<bool>(),
    ))
    .prop_map(|f| {
        f.map(|(accept, routes, bidir)| Filter {
            span: u(),
            mode: if accept {
                FilterMode::Accept
            } else {
                FilterMode::Deny
            },
            routes,
            bidir: bidir.then(u),
        })
    });
    (
        prop::collection::vec(boundary.prop_map(Spanned::unspanned), 0..3),
        (opt(1u8..=31), opt(0u8..=31), opt(1u8..=255)),
        (opt(0u32..=100_000), opt(120u32..=86400), opt(any::<bool>())),
        (opt_span(), opt_span(), opt_span(), opt_span(), opt_span()),
        filter,
    )
        .prop_map(
            |(
                boundaries,
                (metric, advert_metric, threshold),
                (rate_limit, prune_lifetime, rexmit_prunes),
                (passive, noflood, notransit, blaster, allow_nonpruners),
                filter,
            )| VifOptions {
                boundaries,
                metric,
                advert_metric,
                threshold,
                rate_limit,
                prune_lifetime,
                rexmit_prunes,
                passive,
                noflood,
                notransit,
                blaster,
                allow_nonpruners,
                filter,
                // New since the reference parser: covered by their own tests, left out here
                // so that valid configs still compare with the reference.
                join_groups: Vec::new(),
            },
        )
}

fn arb_phyint(names: Vec<String>) -> impl Strategy<Value = Phyint> {
    (
        arb_iface(),
        opt(prop_oneof![Just(VifState::Enable), Just(VifState::Disable)]),
        prop::collection::vec(
            (any::<[u8; 4]>(), prop::option::of(0u8..=32)).prop_map(|(a, prefix_len)| {
                Spanned::unspanned(AltNet {
                    addr: Ipv4Addr::from(a),
                    prefix_len,
                })
            }),
            0..3,
        ),
        opt(prop_oneof![
            Just(IgmpVersion::V1),
            Just(IgmpVersion::V2),
            Just(IgmpVersion::V3)
        ]),
        opt(any::<bool>()),
        prop::collection::vec(
            any::<[u8; 3]>().prop_map(|b| Spanned::unspanned(Ipv4Addr::new(239, b[0], b[1], b[2]))),
            0..3,
        ),
        arb_options(names),
    )
        .prop_map(
            |(interface, state, altnets, igmp_version, force_leaf, static_groups, options)| {
                Phyint {
                    span: u(),
                    interface: Spanned::unspanned(interface),
                    state,
                    altnets,
                    igmp_version,
                    force_leaf,
                    static_groups,
                    options,
                }
            },
        )
}

fn arb_config() -> impl Strategy<Value = Config> {
    prop::collection::btree_map("[A-Z][A-Z0-9_-]{0,7}", arb_scope(), 0..4).prop_flat_map(|names| {
        let name_list: Vec<String> = names.keys().cloned().collect();
        let names: Vec<BoundaryName> = names
            .into_iter()
            .map(|(name, scope)| BoundaryName {
                span: u(),
                name: Spanned::unspanned(name),
                scope: Spanned::unspanned(scope),
            })
            .collect();
        let tunnel = (arb_iface(), arb_remote(), arb_options(name_list.clone())).prop_map(
            |(local, remote, options)| Tunnel {
                span: u(),
                local: Spanned::unspanned(local),
                remote: Spanned::unspanned(remote),
                options,
            },
        );
        (
            (opt(60u32..=86400), opt(120u32..=86400), opt(any::<bool>())),
            (opt_span(), opt(any::<bool>()), opt_span(), opt_span()),
            (
                opt(20u32..=1024),
                opt(1u32..=19),
                opt(1u32..=1024),
                opt(2u32..=10),
                opt(1u32..=1024),
            ),
            Just(names),
            prop::collection::vec(arb_phyint(name_list), 0..4),
            prop::collection::vec(tunnel, 0..3),
        )
            .prop_map(
                |(
                    (cache_lifetime, prune_lifetime, pruning),
                    (noflood, rexmit_prunes, no_router_alert, no_phyint),
                    (qi, qri, lmi, rob, rt),
                    names,
                    phyints,
                    tunnels,
                )| Config {
                    cache_lifetime,
                    prune_lifetime,
                    pruning,
                    noflood,
                    rexmit_prunes,
                    igmp_query_interval: qi,
                    igmp_query_response_interval: qri,
                    igmp_query_last_member_interval: lmi,
                    igmp_robustness: rob,
                    router_timeout: rt,
                    no_router_alert,
                    router_alert: None,
                    no_phyint,
                    names,
                    phyints,
                    tunnels,
                },
            )
    })
}

proptest! {
    #[test]
    fn print_parse_round_trip(conf in arb_config()) {
        let text = conf.to_string();
        let mut back = match parse(&text) {
            Ok(c) => c,
            Err(e) => return Err(TestCaseError::fail(format!("{e}\n--- text ---\n{text}"))),
        };
        back.erase_spans();
        prop_assert_eq!(back, conf);
    }

    #[test]
    fn round_trip_survives_reflowing(conf in arb_config(), seed in any::<u64>()) {
        // Free-form: any white space between tokens, newlines included, means the same.
        let text = conf.to_string();
        let mut state = seed | 1;
        let reflowed: String = text
            .split_whitespace()
            .map(|w| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let sep = ["\n", " ", "\t", "\n  ", " # comment\n"][(state % 5) as usize];
                format!("{w}{sep}")
            })
            .collect();
        let mut back = parse(&reflowed).map_err(|e| TestCaseError::fail(format!("{e}\n{reflowed}")))?;
        back.erase_spans();
        prop_assert_eq!(back, conf);
    }

    #[test]
    fn never_panics_on_arbitrary_text(text in "\\PC{0,200}") {
        let _ = parse(&text);
    }

    #[test]
    fn never_panics_on_keyword_soup(words in prop::collection::vec(prop_oneof![
        Just("phyint"), Just("tunnel"), Just("name"), Just("no"), Just("metric"), Just("threshold"),
        Just("boundary"), Just("altnet"), Just("accept"), Just("deny"), Just("exact"), Just("bidir"),
        Just("default"), Just("rexmit-prunes"), Just("force-leaf"), Just("on"), Just("off"),
        Just("eth0"), Just("X"), Just("239.1.0.0/16"), Just("192.0.2.1"), Just("0"), Just("31"),
        Just("#"), Just("\n"), Just("static-group"), Just("239.1.1.1"), Just("enable"),
        Just("igmp-query-response-interval"), Just("200"),
        Just("join-group"), Just("igmp-query-reponse-interval"), Just("router-alert"),
        Just("off"),
    ], 0..40)) {
        let text = words.join(" ");
        if let Err(e) = parse(&text) {
            for err in e.errors() {
                // Errors beyond MAX_ERRORS are counted in a last one about the whole file.
                let summary = matches!(err.kind, ErrorKind::TooManyErrors { .. });
                prop_assert!(summary || (err.line >= 1 && err.column >= 1));
            }
        }
    }
}

// ---- the rewritten parser against the one it replaced -------------------------------------------

/// Parses with both the parser and `reference` (the parser before the byte-level rewrite)
/// and requires the same AST, spans included, and the same errors in the same order.
fn same_as_reference(text: &str) -> Result<(), TestCaseError> {
    if uses_syntax_newer_than_reference(text) {
        return Ok(());
    }
    let path = Path::new("/etc/mrouted.conf");
    let new = parse_source(text, FileId(7), path);
    // A suggestion of a word the reference did not know.
    if new.1.iter().any(|e| {
        let m = e.to_string();
        ["router-alert", "join-group", "igmp-query-reponse-interval"]
            .iter()
            .any(|w| m.contains(&format!("did you mean \"{w}\"")))
    }) {
        return Ok(());
    }
    let mut old = reference::parse_source(text, FileId(7), path);
    // The reference lists every error; the parser lists MAX_ERRORS and counts the rest.
    old.1 = crate::config::cap_errors(old.1, path);
    prop_assert_eq!(&new.0, &old.0, "AST differs on {:?}", text);
    let new_errors: Vec<String> = new.1.iter().map(ToString::to_string).collect();
    let old_errors: Vec<String> = old.1.iter().map(ToString::to_string).collect();
    prop_assert_eq!(
        new_errors,
        old_errors,
        "error messages differ on {:?}",
        text
    );
    prop_assert_eq!(&new.1, &old.1, "errors differ on {:?}", text);
    Ok(())
}

/// Whether `text` uses what the parser learnt after the reference was frozen: `join-group`,
/// the spelling `igmp-query-reponse-interval`, and `router-alert` other than after `no`
/// (`router-alert on|off` is a statement now, so the word also ends a list of values).
fn uses_syntax_newer_than_reference(text: &str) -> bool {
    let mut prev = "";
    for line in text.split('\n') {
        for word in line.split(|c: char| c.is_ascii() && crate::config::is_space(c as u8)) {
            if word.is_empty() {
                continue;
            }
            if word.starts_with('#') {
                break;
            }
            if word == "join-group"
                || word == "igmp-query-reponse-interval"
                || (word == "router-alert" && prev != "no")
            {
                return true;
            }
            prev = word;
        }
    }
    false
}

/// Every word the grammar gives a meaning to, both spellings, some near misses, and values
/// good and bad of every kind.
const SOUP: &[&str] = &[
    // Keywords.
    "cache_lifetime",
    "cache-lifetime",
    "prune_lifetime",
    "prune-lifetime",
    "pruning",
    "noflood",
    "rexmit_prunes",
    "rexmit-prunes",
    "name",
    "phyint",
    "tunnel",
    "no",
    "igmp-query-interval",
    "igmp-query-response-interval",
    "igmp-query-last-member-interval",
    "igmp-robustness",
    "router-timeout",
    "boundary",
    "metric",
    "advert_metric",
    "advert-metric",
    "threshold",
    "rate_limit",
    "rate-limit",
    "passive",
    "notransit",
    "blaster",
    "allow_nonpruners",
    "allow-nonpruners",
    "accept",
    "deny",
    "bidir",
    "enable",
    "disable",
    "altnet",
    "igmpv1",
    "igmpv2",
    "igmpv3",
    "force_leaf",
    "force-leaf",
    "static-group",
    "join-group",
    "igmp-query-reponse-interval",
    // Words with a meaning after some keyword.
    "exact",
    "default",
    "on",
    "off",
    "yes",
    "no",
    "router-alert",
    // Near misses.
    "Phyint",
    "TUNNEL",
    "static_group",
    "igmp_query_interval",
    "metrics",
    "phyin",
    "routeralert",
    "igmpv4",
    "nam",
    "bidirx",
    "router_alert",
    "sysName",
    "netmask",
    // Values.
    "eth0",
    "eth1",
    "le1",
    "a/b",
    "#x",
    "x#y",
    "verylonginterfacename0",
    "LOCAL",
    "EE",
    "X",
    "0",
    "1",
    "2",
    "10",
    "31",
    "32",
    "60",
    "120",
    "255",
    "256",
    "600",
    "1024",
    "86400",
    "100000",
    "100001",
    "99999999999999999999",
    "007",
    "-1",
    "+1",
    "1e3",
    "192.0.2.1",
    "192.0.2.38",
    "198.51.100.101",
    "10.0.0.0/8",
    "10.1.0.0/16",
    "0.0.0.0/0",
    "239.255.0.0/16",
    "239.1.1.1/32",
    "239.0.0.0/7",
    "224.0.0.0/4",
    "239.1.0.0/33",
    "239.1.0.0/",
    "239.1.0.0/016",
    "1.2.3",
    "1.2.3.4.5",
    "01.2.3.4",
    "256.1.1.1",
    "1.2.3.4/",
    "225.1.2.3",
    "239.1.1.1",
    "192.0.2.1/24",
    "peer.example",
    "host-1.example",
    "a_b.example",
    "é",
    "\u{a0}",
    "\u{feff}phyint",
];

fn soup_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            prop::sample::select(SOUP),
            prop::sample::select(
                &[
                    " ",
                    " ",
                    " ",
                    "\n",
                    "\t",
                    "\r\n",
                    "  # note\n",
                    "\u{b}",
                    "\n\n",
                ][..],
            ),
        ),
        0..60,
    )
    .prop_map(|words| {
        words
            .into_iter()
            .flat_map(|(w, sep)| [w, sep])
            .collect::<String>()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn same_as_reference_on_keyword_soup(text in soup_text()) {
        same_as_reference(&text)?;
    }

    #[test]
    fn same_as_reference_on_soup_without_trailing_space(text in soup_text()) {
        // The end of the file right after a token ("found end of file" positions).
        same_as_reference(text.trim_end_matches(['\n', ' ', '\t', '\r', '\u{b}']))?;
    }

    #[test]
    fn same_as_reference_on_arbitrary_text(text in "(?s).{0,300}") {
        same_as_reference(&text)?;
    }

    #[test]
    fn same_as_reference_on_printable_text(text in "[a-z0-9_ ./#\n\t-]{0,300}") {
        same_as_reference(&text)?;
    }

    #[test]
    fn same_as_reference_on_valid_configs(conf in arb_config(), seed in any::<u64>()) {
        let text = conf.to_string();
        same_as_reference(&text)?;
        // Reflowed, and with one word dropped: valid files and files with one mistake.
        let words: Vec<&str> = text.split_whitespace().collect();
        let drop = if words.is_empty() { 0 } else { (seed as usize) % words.len() };
        let mut state = seed | 1;
        let mut reflowed = String::new();
        for (i, w) in words.iter().enumerate() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            if i != drop {
                reflowed.push_str(w);
            }
            reflowed.push_str(["\n", " ", "\t", "\n  ", " # comment\n"][(state % 5) as usize]);
        }
        same_as_reference(&reflowed)?;
    }

    #[test]
    fn ipv4_like_std(text in "[0-9.]{0,18}|[0-9./+ a-]{0,16}|(?s).{0,16}") {
        prop_assert_eq!(parse_ipv4(&text), text.parse::<Ipv4Addr>().ok(), "{:?}", text);
    }
}

#[test]
fn same_as_reference_on_the_examples() {
    let texts = [
        MANUAL_EXAMPLE,
        "",
        "\n",
        "#",
        "# only a comment",
        "phyint",
        "phyint eth0\n",
        "tunnel eth0",
        "no",
        "no\n",
        "rexmit-prunes no",
        "rexmit-prunes no phyint",
        "rexmit-prunes no phyint eth0",
        "rexmit-prunes no phyint metric",
        "rexmit-prunes no router-alert",
        "phyint eth0 force-leaf no phyint",
        "phyint eth0 force-leaf no phyint eth1",
        "name LOCAL 239.255.0.0/16\nname LOCAL 239.254.0.0/16\n",
        "phyint eth0 boundary NOPE\nname NOPE2 239.1.0.0/16",
        "\u{0}",
        "\u{feff}phyint eth0",
        "phyint eth0\r\n  metric 2\r\n",
        "phyint eth0 metric 2 # a comment\n#another\n  threshold 3#not a comment\n",
    ];
    for text in texts {
        same_as_reference(text).unwrap();
    }
}

#[test]
fn same_as_reference_with_many_names() {
    // Past the size where names are looked up in the index.
    let mut text = String::new();
    for i in 0..40 {
        text.push_str(&format!("name N{i} 239.{i}.0.0/16\n"));
    }
    text.push_str("name N3 239.200.0.0/16\nname N39 239.201.0.0/16\n");
    for i in 0..50 {
        text.push_str(&format!("phyint eth{i} boundary N{i} boundary M{i}\n"));
    }
    text.push_str("name N40 239.202.0.0/16\nname M7 239.203.0.0/16\n");
    same_as_reference(&text).unwrap();
}

#[test]
fn same_as_reference_on_a_generated_file() {
    use std::fmt::Write;
    // The shape of the benchmark's file.
    let mut s =
        String::from("# generated\ncache-lifetime 600\npruning on\nigmp-query-interval 125\n");
    s.push_str("name LOCAL 239.255.0.0/16\nname EE 239.254.0.0/16\n");
    for i in 0..2000usize {
        let (a, b) = ((i >> 8) & 0xff, i & 0xff);
        if i % 4 == 3 {
            writeln!(
                s,
                "tunnel 192.0.{a}.{b} 198.{a}.{b}.1 metric 1 threshold 32"
            )
            .unwrap();
            writeln!(s, "        rate_limit 0 boundary LOCAL   # tunnel {i}").unwrap();
        } else {
            writeln!(
                s,
                "phyint eth{i} metric {} threshold {}",
                1 + i % 30,
                1 + i % 250
            )
            .unwrap();
            writeln!(s, "        altnet 10.{a}.{b}.0/24 altnet 172.16.{b}.0/24").unwrap();
            writeln!(s, "        boundary EE boundary 239.{a}.0.0/16").unwrap();
            writeln!(s, "        static-group 225.{a}.{b}.1 igmpv2").unwrap();
            writeln!(
                s,
                "        accept 10.{a}.0.0/16 exact 192.168.{b}.0/24 bidir"
            )
            .unwrap();
        }
    }
    same_as_reference(&s).unwrap();
}

#[test]
fn ipv4_like_std_exhaustively_on_short_strings() {
    // Every string of up to 7 bytes over these, then 4-octet ones with up to 4 digits each.
    let alphabet = b"0125.9x";
    let mut buf = Vec::new();
    fn walk(buf: &mut Vec<u8>, alphabet: &[u8], left: usize) {
        let s = std::str::from_utf8(buf).unwrap();
        assert_eq!(parse_ipv4(s), s.parse::<Ipv4Addr>().ok(), "{s:?}");
        if left > 0 {
            for &c in alphabet {
                buf.push(c);
                walk(buf, alphabet, left - 1);
                buf.pop();
            }
        }
    }
    walk(&mut buf, alphabet, 7);
    let octets = [
        "", "0", "00", "1", "01", "10", "99", "100", "199", "255", "256", "300", "999", "0255",
        "1000",
    ];
    for a in octets {
        for b in octets {
            for c in ["0", "255", "010"] {
                for d in octets {
                    let s = format!("{a}.{b}.{c}.{d}");
                    assert_eq!(parse_ipv4(&s), s.parse::<Ipv4Addr>().ok(), "{s:?}");
                }
            }
        }
    }
}

#[test]
fn keyword_classes_match_the_lists() {
    const BLOCK_TOO: &[&str] = &[
        "noflood",
        "rexmit_prunes",
        "rexmit-prunes",
        "prune_lifetime",
        "prune-lifetime",
    ];
    for &w in SOUP {
        let kw = Kw::of(w.as_bytes());
        let keyword =
            TOP_LEVEL.contains(&w) || VIF_OPTIONS.contains(&w) || PHYINT_ONLY.contains(&w);
        assert_eq!(kw.is_keyword(), keyword, "{w}");
        assert_eq!(kw.is_top_level(), TOP_LEVEL.contains(&w), "{w}");
        assert_eq!(
            kw.ends_block(),
            TOP_LEVEL.contains(&w) && !BLOCK_TOO.contains(&w),
            "{w}"
        );
        assert_eq!(kw.is_phyint_only(), PHYINT_ONLY.contains(&w), "{w}");
    }
    for w in TOP_LEVEL.iter().chain(VIF_OPTIONS).chain(PHYINT_ONLY) {
        assert!(SOUP.contains(w), "{w} missing from SOUP");
    }
}

#[test]
fn blank_is_config_is_space() {
    for b in 0..=255u8 {
        assert_eq!(blank(b), crate::config::is_space(b), "{b:#x}");
    }
}

proptest! {
    #[test]
    fn decimal_like_parse_decimal(text in "[0-9]{0,22}|[0-9+ -]{0,4}|(?s).{0,6}") {
        prop_assert_eq!(decimal(&text), crate::config::parse_decimal(&text), "{:?}", text);
    }
}

#[test]
fn decimal_at_the_limits() {
    for text in [
        "",
        "0",
        "00",
        "18446744073709551615",
        "9999999999999999999",
        "10000000000000000000",
        "+1",
        "1 ",
        "١",
    ] {
        assert_eq!(
            decimal(text),
            crate::config::parse_decimal(text),
            "{text:?}"
        );
    }
}

proptest! {
    #[test]
    fn word_end_like_a_byte_loop(
        bytes in prop::collection::vec(prop_oneof![
            Just(b' '), Just(b'\t'), Just(b'\n'), Just(0x0b), Just(0x0c), Just(b'\r'), Just(0),
            Just(1), Just(0x1f), Just(b'!'), Just(b'a'), Just(0x7f), Just(0x80), Just(0xa0),
            Just(0xff), any::<u8>(),
        ], 0..40),
        from in 0usize..41,
    ) {
        let from = from.min(bytes.len());
        let expected = bytes[from..]
            .iter()
            .position(|&b| crate::config::is_space(b))
            .map_or(bytes.len(), |n| from + n);
        prop_assert_eq!(word_end(&bytes, from), expected, "{:?} from {}", bytes, from);
    }
}

/// The times `word` appears in `text`, overlaps included.
fn occurrences(text: &str, word: &str) -> usize {
    (0..text.len())
        .filter(|&i| text.as_bytes()[i..].starts_with(word.as_bytes()))
        .count()
}

proptest! {
    #[test]
    fn count_vifs_counts_the_words(
        parts in prop::collection::vec(prop_oneof![
            Just("phyint"), Just("tunnel"), Just("p"), Just("hy"), Just("tun"), Just("nel"),
            Just("n"), Just("nn"), Just(" "), Just("\n"), Just("x"), Just("é"),
            Just("phyintunnel"),
        ], 0..30),
    ) {
        let text: String = parts.concat();
        prop_assert_eq!(
            count_vifs(&text),
            (occurrences(&text, "phyint"), occurrences(&text, "tunnel")),
            "{:?}", text
        );
    }
}

#[test]
fn count_vifs_at_every_offset() {
    for pad in 0..20 {
        for word in ["phyint", "tunnel"] {
            let text = format!("{}{word}{}", "x".repeat(pad), "y".repeat(pad % 7));
            let expected = if word == "phyint" { (1, 0) } else { (0, 1) };
            assert_eq!(count_vifs(&text), expected, "{text:?}");
        }
    }
}

// ---- syntax added after the reference parser --------------------------------------------------

#[test]
fn join_group_is_a_phyint_option_and_not_a_tunnel_one() {
    let c = ok("phyint eth0 join-group 239.1.2.3 join-group 225.1.1.1 metric 2\n");
    let groups: Vec<Ipv4Addr> = c.phyints[0]
        .options
        .join_groups
        .iter()
        .map(|g| g.value)
        .collect();
    assert_eq!(
        groups,
        vec![Ipv4Addr::new(239, 1, 2, 3), Ipv4Addr::new(225, 1, 1, 1)]
    );
    assert_eq!(c.phyints[0].options.metric(), 2);
    let e = parse("tunnel 192.0.2.1 198.51.100.1 join-group 239.1.2.3\n").unwrap_err();
    assert_eq!(e.errors().len(), 1, "{e}");
    assert_eq!((e.errors()[0].line, e.errors()[0].column), (1, 31), "{e}");
    let e = parse("phyint eth0 join-group 192.0.2.1\n").unwrap_err();
    assert_eq!((e.errors()[0].line, e.errors()[0].column), (1, 24), "{e}");
    // Printed and read back.
    let mut again = ok(&c.to_string());
    let mut c = c;
    again.erase_spans();
    c.erase_spans();
    assert_eq!(again, c);
}

#[test]
fn router_alert_on_off_and_no_router_alert() {
    assert!(Config::default().router_alert());
    assert!(!ok("no router-alert\n").router_alert());
    assert!(!ok("router-alert off\n").router_alert());
    assert!(ok("router-alert on\n").router_alert());
    assert!(!ok("phyint eth0 metric 2 router-alert off\n").router_alert());
    let e = parse("no router-alert\nrouter-alert on\n").unwrap_err();
    assert_eq!((e.errors()[0].line, e.errors()[0].column), (2, 1), "{e}");
    let e = parse("router-alert off\nno router-alert\n").unwrap_err();
    assert_eq!((e.errors()[0].line, e.errors()[0].column), (2, 1), "{e}");
    let e = parse("router-alert maybe\n").unwrap_err();
    assert_eq!((e.errors()[0].line, e.errors()[0].column), (1, 14), "{e}");
    let mut c = ok("router-alert off\n");
    let mut again = ok(&c.to_string());
    c.erase_spans();
    again.erase_spans();
    assert_eq!(again, c);
}

#[test]
fn mrouted_46_spelling_of_the_query_response_interval() {
    let a = ok("igmp-query-reponse-interval 7\n");
    let b = ok("igmp-query-response-interval 7\n");
    assert_eq!(a.igmp_query_response_interval(), 7);
    assert_eq!(b.igmp_query_response_interval(), 7);
    let e = parse("igmp-query-reponse-interval 7\nigmp-query-response-interval 8\n").unwrap_err();
    assert_eq!(e.errors()[0].line, 2, "{e}");
}

#[test]
fn router_timeout_is_the_other_querier_present_interval() {
    // mrouted: robustness x query interval + response interval / 2.
    assert_eq!(Config::default().router_timeout(), 255);
    assert_eq!(
        ok("igmp-robustness 3\nigmp-query-interval 100\nigmp-query-response-interval 20\n")
            .router_timeout(),
        310
    );
    assert_eq!(ok("router-timeout 42\n").router_timeout(), 42);
}

#[test]
fn threshold_255_is_taken_and_256_refused_where_it_is_written() {
    assert_eq!(
        ok("phyint eth0 threshold 255\n").phyints[0]
            .options
            .threshold(),
        255
    );
    let e = parse("phyint eth0\n  threshold 256\n").unwrap_err();
    let err = &e.errors()[0];
    assert_eq!((err.line, err.column), (2, 13), "{e}");
}
