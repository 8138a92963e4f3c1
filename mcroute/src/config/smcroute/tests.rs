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

fn kind(text: &str) -> ErrorKind {
    let e = parse(text).unwrap_err();
    assert_eq!(e.len(), 1, "{e}");
    e.0.into_iter().next().unwrap().kind
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn ifp(s: &str) -> IfPattern {
    IfPattern::parse(s).unwrap()
}

fn sp(line: u32, column: u32) -> Span {
    Span::new(FileId(0), line, column)
}

#[test]
fn phyint_all_forms() {
    let c = ok("phyint eth0\n\
                phyint eth1 enable ttl-threshold 11\n\
                phyint eth2 disable\n\
                phyint a+ mrdisc enable\n\
                phyint b0 ttl-threshold 255 mrdisc disable\n");
    let p: Vec<&Phyint> = c
        .directives
        .iter()
        .map(|d| match d {
            Directive::Phyint(p) => p,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(p.len(), 5);
    assert_eq!(p[0].interface.value, ifp("eth0"));
    assert_eq!(p[0].state, None);
    assert_eq!(p[0].threshold(), 1);
    assert_eq!(p[0].span, sp(1, 1));
    assert_eq!(p[0].interface.span, sp(1, 8));
    assert_eq!(p[1].state.unwrap().value, PhyintState::Enable);
    assert_eq!(p[1].ttl_threshold.unwrap(), Spanned::new(11, sp(2, 34)));
    assert_eq!(p[1].threshold(), 11);
    assert_eq!(p[2].state.unwrap().value, PhyintState::Disable);
    assert!(p[3].interface.value.is_wildcard());
    assert_eq!(p[3].mrdisc, Some(sp(4, 11)));
    assert_eq!(p[4].threshold(), 255);
    assert_eq!(p[4].state.unwrap().value, PhyintState::Disable);
}

#[test]
fn mroute_all_forms() {
    let c = ok(
        "mroute from eth0 source 192.0.2.42 group 225.1.2.3 to eth1 eth2\n\
                mroute from eth0 group 225.3.2.1 to eth1 eth2\n\
                mroute from eth0 group 225.0.0.0/24 to eth1\n\
                mroute from a1 group ff0e::42/121 to a2\n\
                mroute from a1 source 198.51.100.1/24 group 225.3.2.1 to a2\n\
                mroute from a1 source 2001:db8::1/64 group ff3e::114 to a2\n\
                mroute from a1 source 192.0.2.1 group 225.3.3.3/24 to a2\n\
                mroute group 239.1.1.1 from a1 to b1 b2 b3\n\
                mroute from a1 group 239.1.1.2\n\
                mroute from a1 group 239.1.1.3 to\n\
                mroute from a1 source 0.0.0.0 group 239.1.1.4 to b1\n",
    );
    let r: Vec<&Mroute> = c
        .directives
        .iter()
        .map(|d| match d {
            Directive::Mroute(r) => r,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(r.len(), 11);
    assert_eq!(r[0].from.value, ifp("eth0"));
    assert_eq!(r[0].source.unwrap().value, net("192.0.2.42/32"));
    assert_eq!(r[0].source.unwrap().span, sp(1, 25));
    assert_eq!(r[0].group.value, net("225.1.2.3/32"));
    assert_eq!(r[0].group.span, sp(1, 42));
    assert_eq!(
        r[0].to.iter().map(|o| o.value.clone()).collect::<Vec<_>>(),
        [ifp("eth1"), ifp("eth2")]
    );
    assert_eq!(r[0].to[1].span, sp(1, 60));
    assert!(r[0].is_ssm());
    assert_eq!(r[1].source, None);
    assert!(!r[1].is_ssm());
    assert_eq!(r[2].group.value, net("225.0.0.0/24"));
    assert!(!r[2].is_ssm());
    assert_eq!(r[3].group.value, net("ff0e::42/121"));
    assert_eq!(r[4].source_range(), Some(net("198.51.100.1/24")));
    assert!(!r[4].is_ssm());
    assert_eq!(r[5].source_range(), Some(net("2001:db8::1/64")));
    assert!(!r[6].is_ssm());
    // Free clause order; `to` last.
    assert_eq!(r[7].from.value, ifp("a1"));
    assert_eq!(r[7].to.len(), 3);
    // No OIFs: a stop filter; an empty `to` is the same.
    assert!(r[8].to.is_empty());
    assert!(r[9].to.is_empty());
    // 0.0.0.0 is kept as written but means (*,G).
    assert_eq!(r[10].source.unwrap().value, net("0.0.0.0/32"));
    assert_eq!(r[10].source_range(), None);
    assert!(!r[10].is_ssm());
}

#[test]
fn mgroup_and_alias() {
    let c = ok("mgroup from eth0 group 225.1.2.3\n\
                ssmgroup from eth0 source 192.0.2.1 group 232.1.1.1\n\
                mgroup from virbr0 group 232.1.2.4 source 192.0.2.110\n\
                mgroup from a1 source 192.0.2.10 group 225.1.2.40/24\n\
                mgroup from a1 group ff0e::1\n");
    let g: Vec<&Mgroup> = c
        .directives
        .iter()
        .map(|d| match d {
            Directive::Mgroup(g) => g,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(g.len(), 5);
    assert_eq!(g[0].source_range(), None);
    assert_eq!(g[1].source_range(), Some(net("192.0.2.1/32")));
    assert_eq!(g[2].group.value, net("232.1.2.4/32"));
    assert_eq!(g[2].source_range(), Some(net("192.0.2.110/32")));
    assert_eq!(g[3].joins().unwrap().len(), 256);
    assert_eq!(
        g[4].group.value.addr(),
        "ff0e::1".parse::<IpAddr>().unwrap()
    );
}

#[test]
fn include_directive() {
    let c = ok("include /etc/smcroute.d/*.conf\n");
    match &c.directives[0] {
        Directive::Include(i) => {
            assert_eq!(i.pattern.value, "/etc/smcroute.d/*.conf");
            assert_eq!(i.pattern.span, sp(1, 9));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn comments_blank_lines_and_white_space() {
    let c = ok("# a comment\n\
                \n   \t \n\
                mroute from eth0 group 225.1.2.3 to eth1 eth2 # two OIFs, not four\n\
                mroute from eth0 group 225.1.2.4 to eth1 #glued\n\
                \tphyint\teth0\tenable\r\n\
                mgroup from eth0 group 225.1.2.3 # trailing\n\
                phyint eth3 # enable\n\
                # mroute from eth0 group 10.0.0.1\n\
                mroute from eth0 group 225.1.2.5 to eth1\x0beth2");
    assert_eq!(c.directives.len(), 6);
    let Directive::Mroute(r) = &c.directives[0] else {
        panic!()
    };
    assert_eq!(r.to.len(), 2);
    let Directive::Mroute(r) = &c.directives[1] else {
        panic!()
    };
    assert_eq!(r.to.len(), 1);
    let Directive::Phyint(p) = &c.directives[2] else {
        panic!()
    };
    assert_eq!(p.interface.value, ifp("eth0"));
    assert_eq!(p.state.unwrap().value, PhyintState::Enable);
    let Directive::Phyint(p) = &c.directives[4] else {
        panic!()
    };
    assert_eq!(p.state, None);
    let Directive::Mroute(r) = &c.directives[5] else {
        panic!()
    };
    assert_eq!(
        r.to.len(),
        2,
        "vertical tab separates tokens, as isspace() does"
    );
    assert!(ok("").directives.is_empty());
    assert!(ok("\n\n#\n").directives.is_empty());
}

#[test]
fn group_slash_zero_is_a_host_group() {
    let c = ok("mroute from a1 group 225.1.2.3/0 to a2\nmgroup from a1 group ff0e::5/0\n");
    let Directive::Mroute(r) = &c.directives[0] else {
        panic!()
    };
    assert_eq!(r.group.value, net("225.1.2.3/32"));
    let Directive::Mgroup(g) = &c.directives[1] else {
        panic!()
    };
    assert_eq!(g.group.value, net("ff0e::5/128"));
    assert_eq!(g.joins().unwrap().len(), 1);
    // On a source, /0 is literal.
    let c = ok("mroute from a1 source 192.0.2.1/0 group 225.1.2.3 to a2\n");
    let Directive::Mroute(r) = &c.directives[0] else {
        panic!()
    };
    assert_eq!(r.source_range(), Some(net("192.0.2.1/0")));
}

#[test]
fn mixed_families_in_one_file() {
    let c = ok("mroute from a1 source 192.0.2.1 group 225.1.1.1 to a2\n\
                mroute from a1 source 2001:db8::1 group ff3e::1 to a2\n\
                mgroup from a1 group 239.1.1.1\n\
                mgroup from a1 source 2001:db8::2 group ff3e::2\n");
    let fams: Vec<bool> = c
        .directives
        .iter()
        .map(|d| match d {
            Directive::Mroute(r) => r.group.value.addr().is_ipv4(),
            Directive::Mgroup(g) => g.group.value.addr().is_ipv4(),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(fams, [true, false, true, false]);
}

#[test]
fn wildcards() {
    let p = ifp("eth+");
    assert!(p.is_wildcard());
    assert_eq!(p.name(), "eth");
    for name in ["eth", "eth0", "eth15", "ethfoo"] {
        assert!(p.matches(name), "{name}");
    }
    for name in ["et", "wlan0", "veth0", ""] {
        assert!(!p.matches(name), "{name}");
    }
    let all = ifp("+");
    assert!(all.matches("lo") && all.matches("anything") && all.matches(""));
    assert_eq!(all.to_string(), "+");
    let exact = ifp("eth0");
    assert!(!exact.is_wildcard());
    assert!(exact.matches("eth0") && !exact.matches("eth00") && !exact.matches("eth"));
    // '+' in the middle is a literal character.
    let mid = ifp("e+th");
    assert!(!mid.is_wildcard() && mid.matches("e+th") && !mid.matches("e0th"));
    assert_eq!(ifp("0123456789abcde+").name(), "0123456789abcde");
    assert_eq!(
        IfPattern::parse("0123456789abcdef"),
        Err("longer than 15 bytes")
    );
    assert_eq!(IfPattern::parse(""), Err("empty name"));
    assert_eq!(format!("{:?}", ifp("eth+")), "IfPattern(eth+)");
    let c = ok("mroute from eth+ group 225.1.1.1 to wlan+ eth0\n");
    let Directive::Mroute(r) = &c.directives[0] else {
        panic!()
    };
    assert!(r.from.value.matches("eth7"));
    assert!(r.to[0].value.matches("wlan3"));
    assert!(!r.to[1].value.is_wildcard());
}

#[test]
fn join_expansion_counts_order_and_cap() {
    let j: Vec<Join> = expand_joins(None, net("225.1.2.40/30"), MAX_JOINS)
        .unwrap()
        .collect();
    assert_eq!(
        j.iter().map(|j| j.group.to_string()).collect::<Vec<_>>(),
        ["225.1.2.40", "225.1.2.41", "225.1.2.42", "225.1.2.43"]
    );
    assert!(j.iter().all(|j| j.source.is_none()));
    // Host bits of the written address are ignored: counted from the network address.
    let j: Vec<Join> = expand_joins(Some(net("192.0.2.7/31")), net("232.1.1.9/31"), 16)
        .unwrap()
        .collect();
    let pairs: Vec<String> = j
        .iter()
        .map(|j| format!("{},{}", j.source.unwrap(), j.group))
        .collect();
    assert_eq!(
        pairs,
        [
            "192.0.2.6,232.1.1.8",
            "192.0.2.7,232.1.1.8",
            "192.0.2.6,232.1.1.9",
            "192.0.2.7,232.1.1.9"
        ]
    );
    assert_eq!(
        expand_joins(None, net("239.0.0.0/16"), MAX_JOINS)
            .unwrap()
            .len(),
        65536
    );
    assert_eq!(
        expand_joins(None, net("239.0.0.0/15"), MAX_JOINS).unwrap_err(),
        TooManyJoins {
            joins_log2: 17,
            max: 65536
        }
    );
    assert_eq!(
        expand_joins(Some(net("192.0.2.0/24")), net("239.0.0.0/24"), MAX_JOINS)
            .unwrap()
            .len(),
        65536
    );
    assert_eq!(
        expand_joins(Some(net("192.0.2.0/24")), net("239.0.0.0/23"), MAX_JOINS)
            .unwrap_err()
            .joins_log2,
        17
    );
    // The biggest ranges do not overflow.
    let e = expand_joins(Some(net("::/0")), net("ff00::/8"), MAX_JOINS).unwrap_err();
    assert_eq!(e.joins_log2, 248);
    assert_eq!(
        e.to_string(),
        "range expands to 2^248 joins, more than the limit of 65536"
    );
    let v6: Vec<Join> = expand_joins(None, net("ff3e::fffe/127"), 2)
        .unwrap()
        .collect();
    assert_eq!(v6[1].group, "ff3e::ffff".parse::<IpAddr>().unwrap());
    let mut it = expand_joins(None, net("239.255.255.254/31"), 2).unwrap();
    assert_eq!(it.size_hint(), (2, Some(2)));
    assert_eq!(it.next().unwrap().group.to_string(), "239.255.255.254");
    assert_eq!(it.len(), 1);
    assert_eq!(it.next().unwrap().group.to_string(), "239.255.255.255");
    assert_eq!(it.next(), None);
}

#[test]
fn mgroup_range_cap_is_a_parse_error() {
    assert_eq!(
        one_error("mgroup from a1 group 239.0.0.0/8\n"),
        "<input>:1:22: mgroup range expands to 16777216 joins, more than the limit of 65536"
    );
    assert_eq!(
        one_error("mgroup from a1 source 2001:db8::/64 group ff3e::/120\n"),
        "<input>:1:43: mgroup range expands to 2^72 joins, more than the limit of 65536"
    );
    // mroute ranges are templates: no expansion, no cap.
    ok("mroute from a1 group 239.0.0.0/8 to a2\n");
}

// ---- every error message -------------------------------------------------------------------

#[test]
fn error_unknown_directive() {
    assert_eq!(
        one_error("mroutexyz from a1 group 225.1.1.1\n"),
        "<input>:1:1: unknown directive \"mroutexyz\" (did you mean \"mroute\"?)"
    );
    assert_eq!(
        one_error("  frobnicate\n"),
        "<input>:1:3: unknown directive \"frobnicate\""
    );
    assert_eq!(
        one_error("phyimt eth0\n"),
        "<input>:1:1: unknown directive \"phyimt\" (did you mean \"phyint\"?)"
    );
}

#[test]
fn error_unknown_clause() {
    assert_eq!(
        one_error("mroute from a1 grp 225.1.1.1 to a2\n"),
        "<input>:1:16: unknown mroute clause \"grp\" (did you mean \"group\"?)"
    );
    assert_eq!(
        one_error("mroute from a1 groups 225.1.1.1\n"),
        "<input>:1:16: unknown mroute clause \"groups\" (did you mean \"group\"?)"
    );
    assert_eq!(
        one_error("mgroup from a1 group 225.1.1.1 tox a2\n"),
        "<input>:1:32: unknown mgroup clause \"tox\""
    );
    assert_eq!(
        one_error("mroute from a1 group 225.1.1.1 tox a2\n"),
        "<input>:1:32: unknown mroute clause \"tox\" (did you mean \"to\"?)"
    );
    assert_eq!(
        one_error("mgroup from a1 gruop 225.1.1.1\n"),
        "<input>:1:16: unknown mgroup clause \"gruop\" (did you mean \"group\"?)"
    );
    assert_eq!(
        one_error("phyint eth0 enabled\n"),
        "<input>:1:13: unknown phyint option \"enabled\" (did you mean \"enable\"?)"
    );
    assert_eq!(
        one_error("phyint eth0 ttl 3\n"),
        "<input>:1:13: unknown phyint option \"ttl\""
    );
}

#[test]
fn error_expected_values() {
    assert_eq!(
        one_error("mroute from a1 source 192.0.2.1 group 192.0.2.2 to a2\n"),
        "<input>:1:39: expected a multicast group after \"group\", found \"192.0.2.2\""
    );
    assert_eq!(
        one_error("mroute from a1 group 225.1.1.1.1 to a2\n"),
        "<input>:1:22: expected a multicast group after \"group\", found \"225.1.1.1.1\""
    );
    assert_eq!(
        one_error("mroute from a1 group\n"),
        "<input>:1:21: expected a multicast group after \"group\", found end of line"
    );
    assert_eq!(
        one_error("mroute from a1 group 225.1.1.1 source\n"),
        "<input>:1:38: expected a source address after \"source\", found end of line"
    );
    assert_eq!(
        one_error("mroute from a1 source eth0 group 225.1.1.1\n"),
        "<input>:1:23: expected a source address after \"source\", found \"eth0\""
    );
    assert_eq!(
        one_error("mroute from\n"),
        "<input>:1:12: expected an interface name after \"from\", found end of line"
    );
    assert_eq!(
        one_error("mroute from group 225.1.1.1 to a2\n"),
        "<input>:1:13: expected an interface name after \"from\", found \"group\""
    );
    assert_eq!(
        one_error("phyint\n"),
        "<input>:1:7: expected an interface name after \"phyint\", found end of line"
    );
    assert_eq!(
        one_error("phyint enable\n"),
        "<input>:1:8: expected an interface name after \"phyint\", found \"enable\""
    );
    assert_eq!(
        one_error("phyint eth0 ttl-threshold x\n"),
        "<input>:1:27: expected a TTL threshold (1-255) after \"ttl-threshold\", found \"x\""
    );
    assert_eq!(
        one_error("phyint eth0 ttl-threshold\n"),
        "<input>:1:26: expected a TTL threshold (1-255) after \"ttl-threshold\", found end of line"
    );
    assert_eq!(
        one_error("include\n"),
        "<input>:1:8: expected a file name or pattern after \"include\", found end of line"
    );
    assert_eq!(
        one_error("include a.conf b.conf\n"),
        "<input>:1:16: expected end of line after the include pattern, found \"b.conf\""
    );
    assert!(matches!(
        kind("include a b"),
        ErrorKind::Expected { found: Found::Token(t), .. } if t == "b"
    ));
}

#[test]
fn error_out_of_range() {
    assert_eq!(
        one_error("phyint eth0 ttl-threshold 0\n"),
        "<input>:1:27: ttl-threshold 0 is out of range (1-255)"
    );
    assert_eq!(
        one_error("phyint eth0 ttl-threshold 256\n"),
        "<input>:1:27: ttl-threshold 256 is out of range (1-255)"
    );
    assert_eq!(
        kind("phyint eth0 ttl-threshold 1000"),
        ErrorKind::OutOfRange {
            what: "ttl-threshold",
            value: "1000".into(),
            min: 1,
            max: 255
        }
    );
}

#[test]
fn error_prefix_lengths() {
    assert_eq!(
        one_error("mroute from a1 group 225.1.1.0/33 to a2\n"),
        "<input>:1:22: invalid prefix length in \"225.1.1.0/33\" (expected 0-32)"
    );
    assert_eq!(
        one_error("mroute from a1 group ff0e::/129 to a2\n"),
        "<input>:1:22: invalid prefix length in \"ff0e::/129\" (expected 0-128)"
    );
    assert_eq!(
        one_error("mroute from a1 source 192.0.2.0/x group 225.1.1.1\n"),
        "<input>:1:23: invalid prefix length in \"192.0.2.0/x\" (expected 0-32)"
    );
    assert_eq!(
        one_error("mroute from a1 group 225.1.1.1/ to a2\n"),
        "<input>:1:22: invalid prefix length in \"225.1.1.1/\" (expected 0-32)"
    );
    assert_eq!(
        one_error("mroute from a1 group 225.1.1.1/0024 to a2\n"),
        "<input>:1:22: invalid prefix length in \"225.1.1.1/0024\" (expected 0-32)"
    );
    assert_eq!(
        one_error("mroute from a1 group 225.0.0.0/3 to a2\n"),
        "<input>:1:22: group range \"225.0.0.0/3\" extends beyond the multicast range"
    );
    assert_eq!(
        one_error("mroute from a1 group ff0e::/7 to a2\n"),
        "<input>:1:22: group range \"ff0e::/7\" extends beyond the multicast range"
    );
    ok("mroute from a1 group 224.0.0.0/4 to a2\nmroute from a1 group ff00::/8 to a2\n");
}

#[test]
fn error_sources() {
    assert_eq!(
        one_error("mroute from a1 source 225.1.1.1 group 225.1.1.2\n"),
        "<input>:1:23: source \"225.1.1.1\" is a multicast address"
    );
    assert_eq!(
        one_error("mroute from a1 source 2001:db8::1 group 225.1.1.2 to a2\n"),
        "<input>:1:23: source \"2001:db8::1\" and group \"225.1.1.2\" are of different address families"
    );
    assert_eq!(
        one_error("mgroup from a1 group ff3e::1 source 192.0.2.1/24\n"),
        "<input>:1:37: source \"192.0.2.1/24\" and group \"ff3e::1\" are of different address families"
    );
}

#[test]
fn error_duplicates_and_conflicts() {
    assert_eq!(
        one_error("mroute from a1 group 225.1.1.1 group 225.1.1.2\n"),
        "<input>:1:32: \"group\" is given more than once (first at line 1, column 22)"
    );
    assert_eq!(
        one_error("mroute from a1 from a2 group 225.1.1.2\n"),
        "<input>:1:16: \"from\" is given more than once (first at line 1, column 13)"
    );
    assert_eq!(
        one_error("mgroup from a1 source 192.0.2.1 source 192.0.2.2 group 232.1.1.2\n"),
        "<input>:1:33: \"source\" is given more than once (first at line 1, column 23)"
    );
    assert_eq!(
        one_error("phyint eth0 enable enable\n"),
        "<input>:1:20: \"enable\" is given more than once (first at line 1, column 13)"
    );
    assert_eq!(
        one_error("phyint eth0 mrdisc mrdisc\n"),
        "<input>:1:20: \"mrdisc\" is given more than once (first at line 1, column 13)"
    );
    assert_eq!(
        one_error("phyint eth0 ttl-threshold 2 ttl-threshold 3\n"),
        "<input>:1:29: \"ttl-threshold\" is given more than once (first at line 1, column 27)"
    );
    assert_eq!(
        one_error("phyint eth0 enable disable\n"),
        "<input>:1:20: \"disable\" conflicts with \"enable\" given before"
    );
}

#[test]
fn error_not_allowed_and_missing() {
    assert_eq!(
        one_error("mgroup from a1 group 225.1.1.1 to a2\n"),
        "<input>:1:32: \"to\" is not allowed in mgroup"
    );
    assert_eq!(
        one_error("mroute group 225.1.1.1 to a2\n"),
        "<input>:1:1: mroute is missing \"from IFNAME\""
    );
    assert_eq!(
        one_error("mroute from a1 to a2\n"),
        "<input>:1:1: mroute is missing \"group GROUP\""
    );
    assert_eq!(
        one_error("mgroup from a1\n"),
        "<input>:1:1: mgroup is missing \"group GROUP\""
    );
    assert_eq!(
        one_error("ssmgroup source 192.0.2.1 group 232.1.1.1\n"),
        "<input>:1:1: mgroup is missing \"from IFNAME\""
    );
    assert_eq!(
        one_error("mroute\n"),
        "<input>:1:1: mroute is missing \"from IFNAME\""
    );
}

#[test]
fn error_too_many_oifs() {
    let oifs: Vec<String> = (0..32).map(|i| format!("b{i}")).collect();
    let line = format!("mroute from a1 group 225.1.1.1 to {}", oifs.join(" "));
    let c = ok(&line);
    let Directive::Mroute(r) = &c.directives[0] else {
        panic!()
    };
    assert_eq!(r.to.len(), 32);
    let too_many = format!("{line} b32 b33\n");
    let col = line.len() + 2;
    assert_eq!(
        one_error(&too_many),
        format!("<input>:1:{col}: more than 32 outbound interfaces")
    );
    // A trailing comment does not count.
    ok(&format!("{line} # b32 b33"));
}

#[test]
fn error_invalid_interfaces() {
    assert_eq!(
        one_error("mroute from a1 group 225.1.1.1 to averyveryverylongname\n"),
        "<input>:1:35: invalid interface name \"averyveryverylongname\": longer than 15 bytes"
    );
    assert_eq!(
        one_error("phyint eth/0\n"),
        "<input>:1:8: invalid interface name \"eth/0\": contains \"/\""
    );
    assert_eq!(
        one_error("mgroup from 0123456789abcdef+ group 225.1.1.1\n"),
        "<input>:1:13: invalid interface name \"0123456789abcdef+\": longer than 15 bytes"
    );
}

#[test]
fn all_errors_are_collected_and_good_lines_kept() {
    let text = "phyint eth0 enable\n\
                mroute from a1 group 10.0.0.1 to a2\n\
                mroute from a1 group 225.1.1.1 to a2\n\
                bogus\n\
                phyint eth1 ttl-threshold 0\n\
                mgroup from a1 group 225.1.1.1 source 225.9.9.9\n";
    let e = errors(text);
    assert_eq!(
        e,
        [
            "<input>:2:22: expected a multicast group after \"group\", found \"10.0.0.1\"",
            "<input>:4:1: unknown directive \"bogus\"",
            "<input>:5:27: ttl-threshold 0 is out of range (1-255)",
            "<input>:6:39: source \"225.9.9.9\" is a multicast address",
        ]
    );
    let (c, errs) = parse_source(text, FileId(7), Path::new("/etc/smcroute.conf"));
    assert_eq!(errs.len(), 4);
    assert_eq!(errs[0].file, Path::new("/etc/smcroute.conf"));
    assert_eq!((errs[0].line, errs[0].column), (2, 22));
    assert_eq!(c.directives.len(), 2);
    assert_eq!(c.directives[1].span(), Span::new(FileId(7), 3, 1));
    // Two independent errors on one line are both reported.
    assert_eq!(
        errors("mroute from a1 source 225.1.1.1 group 10.1.1.1\n").len(),
        2
    );
}

#[test]
fn a_bad_clause_does_not_also_report_missing() {
    // The group is wrong, so "missing group" would only repeat it.
    assert_eq!(errors("mroute from a1 group 10.1.1.1 to a2\n").len(), 1);
    assert_eq!(errors("mroute from a/1 group 225.1.1.1\n").len(), 1);
}

#[test]
fn printer_output() {
    let text = "phyint eth0   enable  ttl-threshold 3 mrdisc\n\
                mgroup  from eth0 group 225.1.2.3/0 source 192.0.2.1\n\
                ssmgroup from a1 group ff3e::1\n\
                mroute from eth+ group 225.0.0.0/24 to eth1 eth2 # x\n\
                mroute from a1 source 2001:db8::/32 group ff0e::/16\n\
                include sub/*.conf\n";
    assert_eq!(
        ok(text).to_string(),
        "phyint eth0 enable mrdisc ttl-threshold 3\n\
         mgroup from eth0 source 192.0.2.1 group 225.1.2.3\n\
         mgroup from a1 group ff3e::1\n\
         mroute from eth+ group 225.0.0.0/24 to eth1 eth2\n\
         mroute from a1 source 2001:db8::/32 group ff0e::/16\n\
         include sub/*.conf\n"
    );
}

#[test]
fn weird_input_does_not_panic() {
    for text in [
        "\u{0}",
        "mroute \u{feff}from a1 group 225.1.1.1",
        "phyint \u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}+",
        "mroute from a1 group 225.1.1.1/255555555555555555555555555555",
        "mroute from a1 group [::1]",
        "mroute from a1 group ff0e::1%eth0",
        "mgroup from a1 source ::/0 group ff00::/8",
        "mgroup from + source 0.0.0.0/0 group 224.0.0.0/4",
        "#\n#\n\r\r\r",
        "include",
        "mroute from a1 group 225.1.1.1 to \u{10ffff}",
    ] {
        let _ = parse(text);
    }
    // Multi-byte names are measured in bytes.
    assert!(parse("phyint \u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}").is_err());
    assert!(parse("phyint \u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}").is_ok());
}

// ---- loading and includes --------------------------------------------------------------------

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "mcroute-smcroute-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn groups(l: &Loaded) -> Vec<String> {
    l.directives
        .iter()
        .map(|d| match d {
            Directive::Mroute(r) => r.group.value.addr().to_string(),
            Directive::Mgroup(g) => g.group.value.addr().to_string(),
            Directive::Phyint(p) => p.interface.value.to_string(),
            Directive::Include(_) => panic!("include left in"),
        })
        .collect()
}

#[test]
fn load_with_glob_includes_in_order() {
    let t = TempDir::new("glob");
    let main = t.write(
        "smcroute.conf",
        "phyint eth0\ninclude smcroute.d/*.conf\nmroute from a1 group 225.0.0.9 to a2\n",
    );
    t.write(
        "smcroute.d/20-b.conf",
        "mroute from a1 group 225.0.0.2 to a2\n",
    );
    t.write(
        "smcroute.d/10-a.conf",
        "mroute from a1 group 225.0.0.1 to a2\ninclude ../extra/x.conf\n",
    );
    t.write(
        "smcroute.d/30-c.txt",
        "mroute from a1 group 225.0.0.3 to a2\n",
    );
    t.write("smcroute.d/.hidden.conf", "bogus\n");
    t.write("extra/x.conf", "mgroup from a1 group ff0e::1\n");
    let l = load(&main).unwrap();
    assert_eq!(
        groups(&l),
        ["eth0", "225.0.0.1", "ff0e::1", "225.0.0.2", "225.0.0.9"]
    );
    assert_eq!(l.files.len(), 4);
    assert_eq!(l.files[0], main);
    assert_eq!(l.files[1], t.0.join("smcroute.d/10-a.conf"));
    assert_eq!(l.files[2], t.0.join("smcroute.d/../extra/x.conf"));
    // Spans name the file each directive came from.
    assert_eq!(l.directives[2].span().file, FileId(2));
    assert_eq!(
        l.path(l.directives[2].span().file),
        Some(l.files[2].as_path())
    );
    assert_eq!(l.directives[4].span(), Span::new(FileId(0), 3, 1));
    assert_eq!(l.path(FileId(99)), None);
    assert_eq!(l.config().directives.len(), 5);
}

#[test]
fn load_glob_without_matches_is_fine_but_explicit_missing_is_not() {
    let t = TempDir::new("missing");
    let main = t.write(
        "a.conf",
        "include nothing/*.conf\ninclude none-[0-9].conf\n",
    );
    assert!(load(&main).unwrap().directives.is_empty());
    let main = t.write("b.conf", "phyint eth0\n\ninclude gone.conf\n");
    let e = load(&main).unwrap_err();
    assert_eq!(e.len(), 1);
    assert_eq!(
        e.0[0].to_string(),
        format!(
            "{}:3:1: included file \"{}\" does not exist",
            main.display(),
            t.0.join("gone.conf").display()
        )
    );
    let (partial, errs) = load_partial(&main);
    assert_eq!(errs.len(), 1);
    assert_eq!(groups(&partial), ["eth0"]);
}

#[test]
fn load_missing_main_file() {
    let t = TempDir::new("nomain");
    let path = t.0.join("smcroute.conf");
    let e = load(&path).unwrap_err();
    assert_eq!(e.len(), 1);
    assert_eq!((e.0[0].line, e.0[0].column), (0, 0));
    assert!(matches!(
        &e.0[0].kind,
        ErrorKind::Io {
            kind: io::ErrorKind::NotFound,
            ..
        }
    ));
    assert!(e.0[0].to_string().starts_with(&format!(
        "{}: cannot read \"{}\": ",
        path.display(),
        path.display()
    )));
}

#[test]
fn load_detects_include_loops() {
    let t = TempDir::new("loop");
    let main = t.write("main.conf", "phyint eth0\ninclude a.conf\n");
    let a = t.write(
        "a.conf",
        "mroute from a1 group 225.0.0.1 to a2\n  include b.conf\n",
    );
    t.write(
        "b.conf",
        "include main.conf\nmroute from a1 group 225.0.0.2 to a2\n",
    );
    let (l, e) = load_partial(&main);
    assert_eq!(groups(&l), ["eth0", "225.0.0.1", "225.0.0.2"]);
    assert_eq!(e.len(), 1);
    assert_eq!(
        e[0].to_string(),
        format!(
            "{}:1:1: include loop: \"{}\" is already being read",
            t.0.join("b.conf").display(),
            t.0.join("main.conf").display()
        )
    );
    // Self include.
    let selfish = t.write("self.conf", "include self.conf\n");
    let e = load(&selfish).unwrap_err();
    assert!(matches!(e.0[0].kind, ErrorKind::IncludeLoop { .. }));
    // A self-matching glob is a loop too, but siblings are fine.
    let g = t.write("g.conf", "include *.conf\n");
    let e = load(&g).unwrap_err();
    assert!(e
        .0
        .iter()
        .any(|e| matches!(e.kind, ErrorKind::IncludeLoop { .. })));
    // The same file twice side by side is read twice, not a loop.
    let twice = t.write("twice.conf", "include a.conf\ninclude ./a.conf\n");
    let (l, e) = load_partial(&twice);
    assert!(!e.is_empty()); // a.conf -> b.conf -> main.conf -> a.conf loops
    assert_eq!(groups(&l).iter().filter(|g| *g == "225.0.0.1").count(), 2);
    let _ = a;
}

#[test]
fn load_reports_unreadable_includes_at_the_include_line() {
    let t = TempDir::new("unreadable");
    fs::create_dir_all(t.0.join("conf.d/dir.conf")).unwrap();
    let main = t.write("main.conf", "# header\n   include conf.d/*.conf\n");
    let e = load(&main).unwrap_err();
    assert_eq!(e.len(), 1);
    assert_eq!((e.0[0].line, e.0[0].column), (2, 4));
    assert_eq!(e.0[0].file, main);
    let ErrorKind::NotRegularFile { path, what } = &e.0[0].kind else {
        panic!("{:?}", e.0[0].kind)
    };
    assert_eq!(path, &t.0.join("conf.d/dir.conf"));
    assert_eq!(*what, "a directory");
    // A dangling symlink matched by a glob is unreadable too.
    std::os::unix::fs::symlink(t.0.join("nowhere"), t.0.join("conf.d/link.conf")).unwrap();
    let e = load(&main).unwrap_err();
    assert_eq!(e.len(), 2);
}

#[test]
fn load_counts_errors_in_included_files() {
    let t = TempDir::new("incerr");
    let main = t.write("main.conf", "include inc.conf\n");
    let inc = t.write("inc.conf", "\nmroute from a1 group 10.0.0.1\n");
    let e = load(&main).unwrap_err();
    assert_eq!(e.len(), 1);
    assert_eq!(e.0[0].file, inc);
    assert_eq!((e.0[0].line, e.0[0].column), (2, 22));
}

#[test]
fn load_refuses_bytes_that_are_not_utf8_at_their_line_and_column() {
    let t = TempDir::new("latin1");
    let p = t.0.join("main.conf");
    // Even in a comment: the same byte in an interface name would become U+FFFD and name
    // an interface that does not exist.
    fs::write(
        &p,
        b"# caf\xe9\nphyint eth0\nmroute from e\xfft0 group 225.1.1.1\n",
    )
    .unwrap();
    let (l, e) = load_partial(&p);
    let lines: Vec<String> = e.iter().map(|e| e.to_string()).collect();
    let file = p.display();
    assert_eq!(
        lines,
        [
            format!(
                "{file}:1:6: invalid UTF-8 (byte 0xe9): configuration files must be UTF-8 text"
            ),
            format!(
                "{file}:3:14: invalid UTF-8 (byte 0xff): configuration files must be UTF-8 text"
            ),
        ]
    );
    // The lines with bad bytes are left out, the others kept, numbered as in the file.
    assert_eq!(groups(&l), ["eth0"]);
    assert_eq!(l.directives[0].span().line, 2);
}

#[test]
fn load_refuses_fifos_devices_and_directories_without_blocking() {
    let t = TempDir::new("special");
    let fifo = t.0.join("fifo.conf");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    // No writer: reading it would block forever.
    let e = load(&fifo).unwrap_err().to_string();
    assert!(
        e.ends_with("fifo.conf\" is a FIFO, not a regular file"),
        "{e}"
    );
    let main = t.write(
        "main.conf",
        "phyint eth0\ninclude fifo.conf\ninclude /dev/zero\ninclude /tmp\n",
    );
    let e = load(&main).unwrap_err();
    let kinds: Vec<_> =
        e.0.iter()
            .map(|e| match &e.kind {
                ErrorKind::NotRegularFile { what, .. } => (e.line, *what),
                other => panic!("{other:?}"),
            })
            .collect();
    assert_eq!(
        kinds,
        [(2, "a FIFO"), (3, "a character device"), (4, "a directory")]
    );
}

#[test]
fn load_refuses_files_larger_than_the_limit() {
    let t = TempDir::new("large");
    let p = t.0.join("big.conf");
    let f = fs::File::create(&p).unwrap();
    // Sparse: no disk space used.
    f.set_len(crate::config::MAX_FILE_SIZE + 1).unwrap();
    let e = load(&p).unwrap_err().to_string();
    assert!(
        e.ends_with(&format!(
            "big.conf\" is larger than the limit of {} bytes",
            crate::config::MAX_FILE_SIZE
        )),
        "{e}"
    );
    f.set_len(crate::config::MAX_FILE_SIZE).unwrap();
    // At the limit it is read (and is 64 MiB of NUL bytes: one line of garbage).
    let e = load(&p).unwrap_err();
    assert_eq!(e.len(), 1, "{e}");
}

#[test]
fn error_messages_cut_long_tokens_and_escape_control_bytes() {
    let long = "x".repeat(1 << 20);
    let e = one_error(&format!("mroute from eth0 group {long}\n"));
    assert!(e.len() < 200, "{} bytes", e.len());
    assert!(
        e.ends_with(&format!(
            "found \"{}…\"",
            "x".repeat(crate::config::MAX_QUOTED)
        )),
        "{e}"
    );
    let e = one_error("phyint eth0 \u{1b}[2J\n");
    assert!(e.contains("\\u{1b}[2J"), "{e}");
}

#[test]
fn binary_garbage_gives_a_bounded_number_of_errors() {
    // Deterministic noise: every line an error.
    let mut x: u32 = 1;
    let garbage: String = (0..100_000)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let table = b"abc \n\t#/:+0123456789.";
            char::from(table[(x >> 16) as usize % table.len()])
        })
        .collect();
    let e = parse(&garbage).unwrap_err();
    assert_eq!(e.len(), crate::config::MAX_ERRORS + 1);
    let last = e.0.last().unwrap().to_string();
    assert!(
        last.starts_with("<input>: ") && last.ends_with("more error(s) not shown"),
        "{last}"
    );
    // The same in two parts (a text past the parallel threshold).
    let big = garbage.repeat(12);
    let h = split_halves(&big).expect("a text this long splits");
    let path = Path::new("big.conf");
    let (_, e) = join_parts(
        parse_part(h.head, 1, h.lines, FileId(0), path),
        parse_part(h.tail, h.tail_first, 0, FileId(0), path),
    );
    assert_eq!(e.len(), crate::config::MAX_ERRORS + 1);
}

// ---- property tests ---------------------------------------------------------------------------

fn arb_ifpattern() -> impl Strategy<Value = IfPattern> {
    const KEYWORDS: &[&str] = &[
        "from",
        "source",
        "group",
        "to",
        "phyint",
        "mroute",
        "mgroup",
        "ssmgroup",
        "include",
        "enable",
        "disable",
        "mrdisc",
        "ttl-threshold",
    ];
    ("[a-z][a-z0-9.:_-]{0,10}", any::<bool>())
        .prop_filter("a keyword is not an interface name", |(name, _)| {
            !KEYWORDS.contains(&name.split(':').next().unwrap_or(""))
        })
        .prop_map(|(name, wild)| {
            // An alias (`eth0:1`) names its base interface; a wildcard prefix has no alias.
            let base = name.split(':').next().unwrap_or("a");
            IfPattern::parse(&if wild { format!("{base}+") } else { name }).unwrap()
        })
}

fn arb_group() -> impl Strategy<Value = IpNet> {
    prop_oneof![
        (any::<[u8; 3]>(), 0u8..3, 4u8..=32).prop_map(|(b, first, len)| {
            let first = [225, 232, 239][usize::from(first)];
            IpNet::new(IpAddr::from([first, b[0], b[1], b[2]]), len).unwrap()
        }),
        (any::<u16>(), 0u8..2, 8u8..=128).prop_map(|(x, scope, len)| {
            let prefix: u16 = if scope == 0 { 0xff0e } else { 0xff3e };
            let a = std::net::Ipv6Addr::new(prefix, 0, 0, 0, 0, 0, 0, x);
            IpNet::new(IpAddr::V6(a), len).unwrap()
        }),
    ]
}

fn arb_source(v4: bool) -> BoxedStrategy<IpNet> {
    if v4 {
        (0u8..3, any::<u8>(), 0u8..=32)
            .prop_map(|(net, host, len)| {
                let a = [[192, 0, 2], [198, 51, 100], [203, 0, 113]][usize::from(net)];
                IpNet::new(IpAddr::from([a[0], a[1], a[2], host]), len).unwrap()
            })
            .boxed()
    } else {
        (any::<u16>(), 0u8..=128)
            .prop_map(|(x, len)| {
                let a = std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, x);
                IpNet::new(IpAddr::V6(a), len).unwrap()
            })
            .boxed()
    }
}

fn arb_flow() -> impl Strategy<Value = (IfPattern, Option<IpNet>, IpNet)> {
    (arb_ifpattern(), arb_group(), any::<bool>()).prop_flat_map(|(from, group, with_source)| {
        let v4 = group.addr().is_ipv4();
        let source = if with_source {
            arb_source(v4).prop_map(Some).boxed()
        } else {
            Just(None).boxed()
        };
        (Just(from), source, Just(group))
    })
}

fn u() -> Span {
    Span::default()
}

fn arb_directive() -> impl Strategy<Value = Directive> {
    let phyint = (
        arb_ifpattern(),
        prop::option::of(prop_oneof![
            Just(PhyintState::Enable),
            Just(PhyintState::Disable)
        ]),
        any::<bool>(),
        prop::option::of(1u8..=255),
    )
        .prop_map(|(i, state, mrdisc, ttl)| {
            Directive::Phyint(Phyint {
                span: u(),
                interface: Spanned::unspanned(i),
                state: state.map(Spanned::unspanned),
                mrdisc: mrdisc.then(u),
                ttl_threshold: ttl.map(Spanned::unspanned),
            })
        });
    let mroute = (
        arb_flow(),
        prop::collection::vec(arb_ifpattern(), 0..=MAX_OIFS),
    )
        .prop_map(|((from, source, group), to)| {
            Directive::Mroute(Mroute {
                span: u(),
                from: Spanned::unspanned(from),
                source: source.map(Spanned::unspanned),
                group: Spanned::unspanned(group),
                to: to.into_iter().map(Spanned::unspanned).collect(),
            })
        });
    let mgroup = arb_flow()
        .prop_filter("range within the join cap", |(_, s, g)| {
            expand_joins(*s, *g, MAX_JOINS).is_ok()
        })
        .prop_map(|(from, source, group)| {
            Directive::Mgroup(Mgroup {
                span: u(),
                from: Spanned::unspanned(from),
                source: source.map(Spanned::unspanned),
                group: Spanned::unspanned(group),
            })
        });
    let include = "[a-zA-Z0-9/._*?-]{1,20}".prop_map(|p| {
        Directive::Include(Include {
            span: u(),
            pattern: Spanned::unspanned(p),
        })
    });
    prop_oneof![phyint, mroute, mgroup, include]
}

proptest! {
    #[test]
    fn print_parse_round_trip(directives in prop::collection::vec(arb_directive(), 0..20)) {
        let conf = Config { directives };
        let text = conf.to_string();
        let mut back = match parse(&text) {
            Ok(c) => c,
            Err(e) => return Err(TestCaseError::fail(format!("{e}\n--- text ---\n{text}"))),
        };
        back.erase_spans();
        prop_assert_eq!(back, conf);
    }

    #[test]
    fn spans_point_at_their_tokens(directives in prop::collection::vec(arb_directive(), 1..10)) {
        let text = Config { directives }.to_string();
        let conf = parse(&text).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, d) in conf.directives.iter().enumerate() {
            prop_assert_eq!(d.span(), Span::new(FileId(0), i as u32 + 1, 1));
            if let Directive::Mroute(r) = d {
                let line = lines[i];
                for o in &r.to {
                    let col = o.span.column as usize - 1;
                    prop_assert!(line[col..].starts_with(&o.value.to_string()));
                }
                let col = r.group.span.column as usize - 1;
                prop_assert!(line[..col].ends_with("group "));
            }
        }
    }

    #[test]
    fn never_panics_on_arbitrary_text(text in "\\PC{0,200}") {
        let _ = parse(&text);
    }

    #[test]
    fn never_panics_on_keyword_soup(words in prop::collection::vec(prop_oneof![
        Just("phyint"), Just("mroute"), Just("mgroup"), Just("ssmgroup"), Just("include"),
        Just("from"), Just("source"), Just("group"), Just("to"), Just("enable"), Just("disable"),
        Just("mrdisc"), Just("ttl-threshold"), Just("eth0"), Just("eth+"), Just("+"), Just("#"),
        Just("\n"), Just("225.1.1.1"), Just("225.0.0.0/8"), Just("192.0.2.1/24"), Just("ff0e::1"),
        Just("2001:db8::/32"), Just("0"), Just("300"), Just("::/0"), Just("0.0.0.0/0"),
    ], 0..40)) {
        let text = words.join(" ");
        if let Err(e) = parse(&text) {
            for err in e.errors() {
                prop_assert!(err.line >= 1 && err.column >= 1);
            }
        }
    }
}

/// A 100,000-line file (a mix of v4/v6 (S,G), (*,G/LEN), joins and phyints), parsed in
/// release builds at well over 100 MB/s. Run with
/// `cargo test --release -p mcroute --lib parse_throughput -- --ignored --nocapture`.
#[test]
#[ignore = "timing; run in release"]
fn parse_throughput() {
    let mut text = String::new();
    for i in 0..100_000u32 {
        let (a, b) = (i / 250 % 250, i % 250);
        let line = match i % 5 {
            0 => format!(
                "mroute from eth0 source 192.0.2.{b} group 225.{a}.{b}.1 to eth1 eth2 eth3\n"
            ),
            1 => format!("mroute from eth+ group 239.{a}.{b}.0/24 to eth1 # template\n"),
            2 => format!(
                "mroute from a1 source 2001:db8::{:x}:{:x} group ff3e::{:x} to a2 a3\n",
                i >> 16,
                i & 0xffff,
                i & 0xffff
            ),
            3 => format!("mgroup from eth0 source 198.51.100.{b} group 232.{a}.{b}.7\n"),
            _ => format!("phyint eth{b} enable ttl-threshold {}\n", b % 254 + 1),
        };
        text.push_str(&line);
    }
    let start = std::time::Instant::now();
    let rounds = 5;
    for _ in 0..rounds {
        let c = parse(&text).unwrap();
        assert_eq!(c.directives.len(), 100_000);
    }
    let secs = start.elapsed().as_secs_f64() / f64::from(rounds);
    let mbps = text.len() as f64 / secs / 1e6;
    println!(
        "{} bytes in {:.1} ms: {mbps:.0} MB/s",
        text.len(),
        secs * 1e3
    );
    if !cfg!(debug_assertions) {
        assert!(mbps > 100.0, "{mbps:.0} MB/s");
    }
}

/// A file large enough to be parsed on two threads gives exactly what one pass gives: the
/// same directives with the same spans, the same errors in file order, whichever half a
/// line (or an error) falls in.
#[test]
fn a_large_file_parsed_in_two_halves_is_the_same() {
    let mut text = String::new();
    let mut n = 0u32;
    while text.len() < 3 * PARALLEL_PARSE_MIN / 2 {
        n += 1;
        match n % 5000 {
            // An error in each part of the file, a comment and a blank line.
            17 => text.push_str("mroute from eth0 group 10.0.0.1 to eth1\n"),
            18 => text.push_str("# a comment\n"),
            19 => text.push('\n'),
            _ => text.push_str(&format!(
                "mroute from eth0 source 192.0.2.{} group 225.1.{}.{} to eth1 eth2\n",
                n % 250 + 1,
                (n / 250) % 250,
                n % 250 + 1
            )),
        }
    }
    text.push_str("phyint eth9 bogus");
    let path = Path::new("big.conf");
    let h = split_halves(&text).expect("a text this long splits");
    let (two, two_errors) = join_parts(
        parse_part(h.head, 1, h.lines, FileId(0), path),
        parse_part(h.tail, h.tail_first, 0, FileId(0), path),
    );
    let (one, one_errors) = parse_source(&text, FileId(0), path);
    assert_eq!(two, one);
    assert_eq!(
        two_errors.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
        one_errors.iter().map(|e| e.to_string()).collect::<Vec<_>>()
    );
    assert!(
        two_errors.len() >= 4,
        "errors in both halves: {two_errors:?}"
    );
    let last = two_errors.last().unwrap().to_string();
    assert!(
        last.starts_with(&format!("big.conf:{}:", n + 1)),
        "the last line's error names its line: {last}"
    );
    assert!(two.directives.len() > 20_000);
}

/// Fuzz regression (smcroute_conf, print-then-parse, found by a 200,000-run ASan run):
/// `group:1` is the alias of an interface `group`, which printed as the keyword `group` after
/// `to` (`... to ethY group eth0`), and the printed file did not parse.
#[test]
fn an_alias_of_a_keyword_is_refused_where_the_keyword_is_reserved() {
    for text in [
        "mroute from eth0 group 225.1.1.1 to eth1 group:1 eth2\n",
        "mroute from eth0 group 225.1.1.1 to from:0\n",
        "mroute from to:0 group 225.1.1.1\n",
        "mgroup from source:9 group 225.1.1.1\n",
        "phyint enable:1\n",
        "phyint ttl-threshold:1 disable\n",
    ] {
        let e = one_error(text);
        assert!(e.contains("is a keyword here"), "{text:?}: {e}");
    }
    // Elsewhere such a name is fine, and prints back to itself.
    let c = ok("mroute from eth0 group 225.1.1.1 to enable:1\nphyint group:2\n");
    let mut again = parse(&c.to_string()).unwrap();
    let mut c = c;
    c.erase_spans();
    again.erase_spans();
    assert_eq!(c, again);
}

/// Fuzz regression (smcroute_conf, print-then-parse): `a+:1` is the alias `:1` of a name
/// `a+`, which prints as `a+`, a wildcard. A name cut before its alias may not end in `+`.
#[test]
fn a_name_ending_in_plus_before_an_alias_is_refused() {
    for text in [
        "mroute from a+:1 group 225.1.1.1\n",
        "mroute from +: group 225.1.1.1\n",
        "phyint x+:y\n",
        "mroute from eth0 group 225.1.1.1 to e+:0\n",
    ] {
        let e = one_error(text);
        assert!(e.contains("invalid interface name"), "{text:?}: {e}");
    }
    // A wildcard still is one.
    assert!(ok("mroute from eth+ group 225.1.1.1 to a++\n")
        .to_string()
        .contains("a++"));
}
