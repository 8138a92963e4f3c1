//! Executing the engine's [`Action`]s on a [`Router`], for any [`Platform`].
//!
//! This is the only place where the static engine meets I/O, and it is optional: a daemon
//! may execute actions its own way. Here the Router allocates VIF/MIF slots and the names
//! in the actions are translated to slots.

use std::time::Instant;

use crate::engine::static_routing::{Action, Route, StaticEngine};
use crate::error::{Error, Object, Result};
use crate::model::MfcEntry;
use crate::platform::Platform;
use crate::router::{RouteBatch, Router, VifOptions};
use crate::wire::upcall::{Upcall, UpcallKind};

/// The MFC entry of `route` with the router's slots. Outbound interfaces without a VIF are
/// left out (logged), as smcroute leaves out an OIF when the VIF table is exhausted; an
/// inbound interface without one is an error.
pub fn route_to_mfc<P: Platform>(router: &Router<P>, route: &Route) -> Result<MfcEntry> {
    let family = route.family();
    let iif = router
        .vif_by_name(family, &route.iif)
        .ok_or_else(|| Error::not_found(Object::Interface(route.iif.to_string())))?
        .id;
    let mut entry = MfcEntry::new(route.source, route.group, iif)?;
    for (name, ttl) in &route.oifs {
        match router.vif_by_name(family, name) {
            Some(v) => entry.add_oif(v.id, *ttl)?,
            None => log::warn!("outbound {name} of {route} has no VIF, skipping it"),
        }
    }
    Ok(entry)
}

/// Executes one action. [`Action::SetMrdisc`] and [`Action::RunScript`] are left to the
/// daemon (they succeed here without doing anything). Removing something already gone
/// (leaving a group on an interface that no longer exists included) and joining something
/// already joined succeed.
pub fn execute<P: Platform>(router: &mut Router<P>, action: &Action) -> Result<()> {
    match action {
        Action::AddVif {
            family,
            name,
            threshold,
            ..
        } => router
            .add_vif_with(
                *family,
                name,
                VifOptions {
                    threshold: *threshold,
                    rate_limit: 0,
                },
            )
            .map(|_| ()),
        Action::RemoveVif { family, name } => match router.vif_by_name(*family, name) {
            Some(v) => {
                let id = v.id;
                router.remove_vif(id).map(|_| ())
            }
            None => Ok(()),
        },
        Action::AddRoute(r) | Action::ReplaceRoute(r) => {
            let entry = route_to_mfc(router, r)?;
            router.add_route(entry)
        }
        Action::RemoveRoute { source, group, .. } => match router.remove_route(*source, *group) {
            Ok(_) | Err(Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        },
        Action::Join {
            name,
            source,
            group,
        } => match router.join(name, *group, *source) {
            Ok(()) | Err(Error::AlreadyExists { .. }) => Ok(()),
            Err(e) => Err(e),
        },
        Action::Leave {
            name,
            source,
            group,
        } => match router.leave(name, *group, *source) {
            // An interface that is gone took its memberships with it.
            Ok(()) | Err(Error::NotFound { .. }) | Err(Error::NoSuchInterface(_)) => Ok(()),
            Err(e) => Err(e),
        },
        Action::SetMrdisc { .. } | Action::RunScript(_) => Ok(()),
    }
}

/// Executes one action through a [`RouteBatch`]: routes are added through the batch (so a
/// large configuration reaches the kernel from its writer thread), everything else as
/// [`execute`] does, after the routes queued before it. A route the kernel refuses may be
/// reported only by [`RouteBatch::sync`] or [`RouteBatch::finish`].
pub fn execute_in<P: Platform>(batch: &mut RouteBatch<'_, P>, action: &Action) -> Result<()> {
    match action {
        Action::AddRoute(r) | Action::ReplaceRoute(r) => {
            let entry = route_to_mfc(batch.get(), r)?;
            batch.add_route(entry)
        }
        _ => execute(batch.router(), action),
    }
}

/// Executes every action in order, going on after failures; returns the ones that failed.
pub fn execute_all<P: Platform>(
    router: &mut Router<P>,
    actions: &[Action],
) -> Vec<(Action, Error)> {
    let mut failed = Vec::new();
    let adds = actions
        .iter()
        .filter(|a| matches!(a, Action::AddRoute(_)))
        .count();
    if adds > 64 {
        router.reserve_routes(adds);
    }
    for a in actions {
        if let Err(e) = execute(router, a) {
            log::warn!("{a}: {e}");
            failed.push((a.clone(), e));
        }
    }
    failed
}

/// Hands an upcall to the engine, translating the VIF/MIF slot to its interface name:
/// NOCACHE goes to [`StaticEngine::handle_upcall`], WRONGVIF to
/// [`StaticEngine::handle_wrong_vif`]; anything else, or an unknown slot, is ignored.
pub fn dispatch_upcall<P: Platform>(
    engine: &mut StaticEngine,
    router: &Router<P>,
    now: Instant,
    upcall: &Upcall,
) {
    let Some(name) = router.vif(upcall.iif()).map(|v| v.name.as_str()) else {
        log::warn!("no interface for {} of {upcall}", upcall.iif());
        return;
    };
    match upcall.kind() {
        UpcallKind::NoCache => engine.handle_upcall(now, name, upcall.source(), upcall.group()),
        UpcallKind::WrongVif => engine.handle_wrong_vif(now, name, upcall.source(), upcall.group()),
        UpcallKind::WholePacket | UpcallKind::WrongVifWhole => {}
    }
}

/// Answers the engine's counter requests ([`StaticEngine::poll_counters_request`]) with
/// the kernel's counters, read through `router`.
pub fn answer_counters<P: Platform>(engine: &mut StaticEngine, router: &Router<P>, now: Instant) {
    while let Some((s, g)) = engine.poll_counters_request() {
        engine.handle_counters(now, s, g, router.route_counters(s, g).ok());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::fake::FakeKernel;
    use crate::router::RouterOptions;

    /// Found by the `static_engine` fuzz target: the engine leaves the groups of an
    /// interface that vanished, and the leave must not fail because the interface is gone.
    #[test]
    fn leave_on_vanished_interface_succeeds() {
        let kernel = FakeKernel::new();
        kernel.add_interface("eth0");
        let mut router = Router::open(kernel.platform(), RouterOptions::default()).unwrap();
        let group: std::net::IpAddr = "225.1.2.3".parse().unwrap();
        let join = Action::Join {
            name: "eth0".into(),
            source: None,
            group,
        };
        execute(&mut router, &join).unwrap();
        kernel.remove_interface("eth0");
        let leave = Action::Leave {
            name: "eth0".into(),
            source: None,
            group,
        };
        execute(&mut router, &leave).unwrap();
    }
}
