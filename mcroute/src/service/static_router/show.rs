//! The control socket of a static router: requests answered by [`StaticService::control`],
//! and `show routes` streamed.
//!
//! `show routes` lists every rule and every installed route: with 100,000 routes, building
//! it whole would hold tens of megabytes of rows and their JSON at once. Instead the reply
//! is a [`Cursor`] (a [`RoutesCursor`]) that the control server moves on as the client reads
//! ([`Handler::resume`]): the template rules and the (S,G) rules are read from their
//! sequence number on, the kernel routes a page of [`KERNEL_PAGE`] at a time in their
//! listing order ([`StaticEngine::kernel_routes_after`]). A route added or removed while a
//! listing is under way is listed or not, but no route is listed twice.
//!
//! [`StaticEngine::kernel_routes_after`]: crate::engine::static_routing::StaticEngine::kernel_routes_after

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::Instant;

use ipnet::IpNet;

use super::{Control, StaticService};
use crate::ctl::server::{Answer, CtlServer, Cursor, Handler, Peer};
use crate::ctl::{Request, Response, RouteRow, RouteTables, ShowWhat};
use crate::engine::static_routing::{InstalledRoute, RouteOrder, RouteRule};
use crate::platform::Platform;

/// Kernel routes fetched per pass over the route table.
pub const KERNEL_PAGE: usize = 8192;

/// Which table a [`RoutesCursor`] is in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Table {
    #[default]
    Templates,
    Rules,
    Kernel,
    Done,
}

/// Where a streamed `show routes` stands.
#[derive(Debug, Default)]
pub struct RoutesCursor {
    table: Table,
    /// The next rule sequence number to look at.
    next_seq: u64,
    /// The last kernel route fetched.
    after: Option<RouteOrder>,
    /// Kernel routes fetched, not yet listed.
    page: VecDeque<InstalledRoute>,
    /// Kernel routes per fetch (tests make it small).
    page_size: usize,
}

impl RoutesCursor {
    /// A cursor at the start of the listing.
    pub fn new() -> RoutesCursor {
        RoutesCursor {
            page_size: KERNEL_PAGE,
            ..RoutesCursor::default()
        }
    }
}

fn order(r: &InstalledRoute) -> RouteOrder {
    let r = &r.route;
    (r.is_stop_filter(), r.family(), r.group, r.source)
}

impl<P: Platform> StaticService<P> {
    /// One turn of the control socket: answers what clients sent (streaming `show routes`)
    /// and returns what the daemon must do beyond the replies.
    pub fn serve_ctl(&mut self, ctl: &mut CtlServer) -> Control {
        let mut h = Serve {
            svc: self,
            control: Control::None,
        };
        ctl.poll_with(&mut h);
        h.control
    }

    /// The next part of a `show routes` listing: about `rows` rows, and whether it is the
    /// last.
    pub fn routes_part(&self, c: &mut RoutesCursor, detail: bool, rows: usize) -> (Response, bool) {
        let mut t = RouteTables::default();
        let mut left = rows.max(1);
        while left > 0 && c.table != Table::Done {
            match c.table {
                Table::Templates => self.rules_part(c, false, &mut t.templates, &mut left),
                Table::Rules => self.rules_part(c, true, &mut t.rules, &mut left),
                Table::Kernel => self.kernel_part(c, detail, &mut t.kernel, &mut left),
                Table::Done => {}
            }
        }
        (Response::Routes(t), c.table == Table::Done)
    }

    /// Lists template rules (`sg` false) or (S,G) rules; moves to the next table at the end.
    fn rules_part(
        &self,
        c: &mut RoutesCursor,
        sg: bool,
        out: &mut Vec<RouteRow>,
        left: &mut usize,
    ) {
        for (seq, r) in self.engine.rules_from(c.next_seq) {
            c.next_seq = seq + 1;
            if r.rule.is_sg() == sg {
                out.push(self.rule_row(&r.rule));
                *left -= 1;
                if *left == 0 {
                    return;
                }
            }
        }
        c.next_seq = 0;
        c.table = if sg { Table::Kernel } else { Table::Rules };
    }

    fn kernel_part(
        &self,
        c: &mut RoutesCursor,
        detail: bool,
        out: &mut Vec<RouteRow>,
        left: &mut usize,
    ) {
        if c.page.is_empty() {
            c.page = self
                .engine
                .kernel_routes_after(c.after, c.page_size.max(1))
                .into();
            match c.page.back() {
                Some(last) => c.after = Some(order(last)),
                None => {
                    c.table = Table::Done;
                    return;
                }
            }
        }
        while *left > 0 {
            let Some(k) = c.page.pop_front() else {
                return;
            };
            out.push(self.kernel_row(&k, detail));
            *left -= 1;
        }
    }

    fn rule_row(&self, r: &RouteRule) -> RouteRow {
        // The rule's interfaces named without a wildcard that have no VIF: it cannot
        // forward through them (more interfaces than slots, a disabled phyint, no such
        // interface yet).
        let family = r.family();
        let no_vif = std::iter::once(&r.iif)
            .chain(&r.oifs)
            .filter(|p| !p.is_wildcard() && !self.engine.has_vif(family, p.name()))
            .map(|p| p.to_string())
            .collect();
        RouteRow {
            source: r.source,
            group: r.group,
            iif: r.iif.to_string(),
            oifs: r.oifs.iter().map(|o| o.to_string()).collect(),
            no_vif,
            packets: None,
            bytes: None,
        }
    }

    fn kernel_row(&self, k: &InstalledRoute, detail: bool) -> RouteRow {
        let host = |a: IpAddr| IpNet::from(a);
        let c = if detail {
            self.router
                .route_counters(k.route.source, k.route.group)
                .ok()
        } else {
            None
        };
        RouteRow {
            source: Some(host(k.route.source)),
            group: host(k.route.group),
            iif: k.route.iif.clone(),
            oifs: k.route.oifs.iter().map(|(n, _)| n.clone()).collect(),
            no_vif: Vec::new(),
            packets: c.map(|c| c.packets),
            bytes: c.map(|c| c.bytes),
        }
    }

    /// The whole `show routes` reply (for callers without a control server).
    pub(super) fn route_tables(&self, detail: bool) -> RouteTables {
        let mut c = RoutesCursor::new();
        let (mut all, mut last) = self.routes_part(&mut c, detail, usize::MAX);
        while !last {
            let (part, l) = self.routes_part(&mut c, detail, usize::MAX);
            let _ = all.append(part);
            last = l;
        }
        match all {
            Response::Routes(t) => t,
            _ => RouteTables::default(),
        }
    }
}

/// The control-socket handler of a static router.
struct Serve<'a, P: Platform> {
    svc: &'a mut StaticService<P>,
    control: Control,
}

impl<P: Platform> Handler for Serve<'_, P> {
    fn handle(&mut self, req: &Request, _peer: Peer) -> Answer {
        if let Request::Show {
            what: ShowWhat::Routes,
            detail,
        } = req
        {
            return Answer::Stream(Cursor {
                what: ShowWhat::Routes,
                detail: *detail,
                position: Box::new(RoutesCursor::new()),
            });
        }
        let (resp, c) = self.svc.control(Instant::now(), req);
        if c != Control::None {
            self.control = c;
        }
        Answer::Reply(resp)
    }

    fn resume(&mut self, cursor: &mut Cursor, rows: usize) -> (Response, bool) {
        let detail = cursor.detail;
        match cursor.position.downcast_mut::<RoutesCursor>() {
            Some(c) => self.svc.routes_part(c, detail, rows),
            None => (
                Response::Error("internal error: not a routes cursor".into()),
                true,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::static_routing::{EngineOptions, StaticConfig};
    use crate::platform::fake::FakeKernel;
    use crate::{Router, RouterOptions};

    /// 50 (S,G) rules, a template, and 10 stop filters; listed in parts of 7 rows with
    /// pages of 4 kernel routes, the listing is the whole table in order.
    #[test]
    fn routes_streamed_in_small_parts_are_the_whole_table_in_order() {
        let k = FakeKernel::new();
        let a1 = k.add_interface("a1");
        k.add_interface("a2");
        let r = Router::open(k.platform(), RouterOptions::dual_stack()).unwrap();
        let mut s = StaticService::new(r, EngineOptions::default());
        let now = Instant::now();
        s.refresh_interfaces(now).unwrap();
        let text: String = (0..50)
            .map(|i| format!("mroute from a1 source 192.0.2.{i} group 225.1.1.{i} to a2\n"))
            .chain(["mroute from a1 group 225.9.0.0/16 to a2\n".to_string()])
            .collect();
        let cfg: StaticConfig = super::super::from_directives(
            crate::config::smcroute::parse(&text).unwrap().directives,
            true,
        )
        .config;
        s.apply(now, &cfg).unwrap();
        for i in 0..10 {
            // Flows no rule matches: stop filters, listed last.
            let _ = k.receive(
                0,
                a1,
                format!("198.51.100.{i}").parse().unwrap(),
                format!("239.1.1.{i}").parse().unwrap(),
                100,
            );
        }
        s.handle_upcalls(now).unwrap();
        let kernel = s.engine().kernel_routes();
        assert_eq!(kernel.len(), 60);

        let mut c = RoutesCursor {
            page_size: 4,
            ..RoutesCursor::new()
        };
        let (mut all, mut last) = s.routes_part(&mut c, false, 7);
        let mut parts = 1;
        while !last {
            let (part, l) = s.routes_part(&mut c, false, 7);
            assert!(part.rows().unwrap() <= 7);
            all.append(part).unwrap();
            last = l;
            parts += 1;
        }
        let Response::Routes(t) = all else {
            panic!("{all:?}")
        };
        assert_eq!(t.templates.len(), 1);
        assert_eq!(t.rules.len(), 50);
        let listed: Vec<(IpAddr, IpAddr)> = t
            .kernel
            .iter()
            .map(|r| (r.source.unwrap().addr(), r.group.addr()))
            .collect();
        let expected: Vec<(IpAddr, IpAddr)> = kernel
            .iter()
            .map(|k| (k.route.source, k.route.group))
            .collect();
        assert_eq!(listed, expected);
        assert!(t.kernel[50..].iter().all(|r| r.oifs.is_empty()));
        assert_eq!(parts, 111usize.div_ceil(7));
        assert_eq!(s.route_tables(false), t);
    }
}
