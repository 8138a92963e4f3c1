//! An application that routes a group only while it has a subscriber, on tokio:
//! `tokio-embed UPSTREAM DOWNSTREAM GROUP` forwards GROUP from UPSTREAM to DOWNSTREAM while
//! a host on DOWNSTREAM is a member (learned by an IGMP querier), and stops when it leaves.
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use mcroute::engine::igmp::{MembershipEvent, Querier, QuerierConfig};
use mcroute::link::LinkEvent;
use mcroute::platform::{IgmpSend, Incoming, Native};
use mcroute::stream::{AsyncLinkMonitor, AsyncRouter};
use mcroute::{MfcEntry, Router, RouterOptions, UpcallKind};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [up, down, group] = &args[..] else {
        return Err("usage: tokio-embed UPSTREAM DOWNSTREAM GROUP".into());
    };
    let group: Ipv4Addr = group.parse()?;
    let mut router = Router::open(Native::new()?, RouterOptions::default())?;
    let (iif, oif) = (router.add_vif(up)?, router.add_vif(down)?);
    let down_if = router.interface(down)?;
    let local = down_if
        .ipv4()
        .ok_or("the downstream interface needs an IPv4 address")?;
    // IGMPv3 reports go to 224.0.0.22 and v2 leaves to 224.0.0.2: link-local groups the
    // kernel only delivers to members.
    for g in [Ipv4Addr::new(224, 0, 0, 22), Ipv4Addr::new(224, 0, 0, 2)] {
        router.join(down, g.into(), None)?;
    }
    let mut querier = Querier::new(QuerierConfig::new(local));
    querier.start(Instant::now());
    let mut router = AsyncRouter::new(router)?;
    let mut links = AsyncLinkMonitor::open()?;
    let mut subscribed = false;
    let mut sources: Vec<Ipv4Addr> = Vec::new();
    loop {
        let wake = querier
            .poll_timeout()
            .unwrap_or_else(|| Instant::now() + std::time::Duration::from_secs(60));
        tokio::select! {
            incoming = router.next_incoming() => match incoming? {
                Incoming::Igmp(p) if p.ifindex == down_if.index => querier.handle_packet(Instant::now(), p.src, &p.payload),
                Incoming::Upcall(u) if u.kind() == UpcallKind::NoCache && u.group() == IpAddr::V4(group) => {
                    let IpAddr::V4(s) = u.source() else { continue };
                    if subscribed {
                        router.get_mut().add_route(MfcEntry::v4(s, group, iif)?.with_oif(oif, 1))?;
                        println!("forwarding ({s}, {group}) {up} -> {down}");
                    }
                    sources.push(s);
                }
                _ => {}
            },
            events = links.next_events() => {
                for e in events? {
                    if let LinkEvent::Link { name: Some(n), removed: true, .. } = e {
                        println!("interface {n} went away");
                    }
                }
            }
            _ = tokio::time::sleep_until(wake.into()) => querier.handle_timeout(Instant::now()),
        }
        while let Some(q) = querier.poll_transmit() {
            let (Some(src), Some(dst)) = (q.src_v4(), q.dst_v4()) else {
                continue;
            };
            let send = IgmpSend {
                ifindex: down_if.index,
                src,
                dst,
                ttl: 1,
                router_alert: true,
                payload: &q.payload,
            };
            router.get_mut().send_igmp(&send)?;
        }
        while let Some(ev) = querier.poll_event() {
            match ev {
                MembershipEvent::Joined(g) if g == group => {
                    subscribed = true;
                    println!("{group} has a subscriber on {down}");
                    for s in sources.drain(..) {
                        router
                            .get_mut()
                            .add_route(MfcEntry::v4(s, group, iif)?.with_oif(oif, 1))?;
                    }
                }
                MembershipEvent::Left(g) if g == group => {
                    subscribed = false;
                    println!("{group} has no subscriber on {down}: stopping");
                    let routes: Vec<_> = router.get_ref().routes().map(|r| r.key()).collect();
                    for (s, g) in routes {
                        router.get_mut().remove_route(s, g)?;
                    }
                }
                _ => {}
            }
        }
    }
}
