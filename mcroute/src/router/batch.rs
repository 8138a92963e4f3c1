//! Adding many routes at once: [`Router::batch`].

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

use super::table::Held;
use super::Router;
use crate::error::{Error, Result};
use crate::model::MfcEntry;
use crate::platform::{MfcWriter, Platform};

/// Routes added directly, one kernel call at a time, before a writer thread is started:
/// a small batch (an upcall, a control request) never starts one.
const DIRECT_ADDS: usize = 256;
/// Routes handed to the writer thread at a time.
const CHUNK: usize = 256;
/// Chunks queued for the writer at most (bounds the memory of a batch).
const QUEUED_CHUNKS: usize = 64;

/// What the caller's thread sends the writer.
enum Msg {
    /// Install these, in order.
    Add(Vec<MfcEntry>),
    /// Report the failures so far once everything before is installed.
    Sync,
}

/// The writer thread and the routes not yet sent to it.
struct Writer {
    chunk: Vec<MfcEntry>,
    tx: SyncSender<Msg>,
    failures: Receiver<Vec<(MfcEntry, Error)>>,
    thread: JoinHandle<()>,
}

impl Writer {
    fn start(mut writer: Box<dyn MfcWriter>) -> std::io::Result<Writer> {
        let (tx, rx) = sync_channel::<Msg>(QUEUED_CHUNKS);
        let (ftx, failures) = sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("mcroute-mfc".into())
            .spawn(move || {
                let mut failed = Vec::new();
                for msg in rx {
                    match msg {
                        Msg::Add(entries) => {
                            for e in entries {
                                if let Err(err) = writer.add_mfc(&e) {
                                    failed.push((e, err));
                                }
                            }
                        }
                        Msg::Sync => {
                            if ftx.send(std::mem::take(&mut failed)).is_err() {
                                return;
                            }
                        }
                    }
                }
            })?;
        Ok(Writer {
            chunk: Vec::with_capacity(CHUNK),
            tx,
            failures,
            thread,
        })
    }

    /// Sends the routes not yet sent; waits until the writer installed everything and
    /// returns what the kernel refused. `None` when the writer thread is gone.
    fn sync(&mut self) -> Option<Vec<(MfcEntry, Error)>> {
        if !self.chunk.is_empty() {
            let chunk = std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK));
            self.tx.send(Msg::Add(chunk)).ok()?;
        }
        self.tx.send(Msg::Sync).ok()?;
        self.failures.recv().ok()
    }

    fn push(&mut self, entry: MfcEntry) -> bool {
        self.chunk.push(entry);
        if self.chunk.len() < CHUNK {
            return true;
        }
        let chunk = std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK));
        self.tx.send(Msg::Add(chunk)).is_ok()
    }

    fn stop(self) {
        drop(self.tx);
        let _ = self.thread.join();
    }
}

/// A writer thread for `platform`'s tables, if it offers a writer and a thread starts.
fn start_writer<P: Platform>(platform: &P) -> Option<Writer> {
    let writer = match platform.mfc_writer() {
        Ok(Some(w)) => w,
        Ok(None) => return None,
        Err(e) => {
            log::debug!("installing routes one by one: {e}");
            return None;
        }
    };
    match Writer::start(writer) {
        Ok(w) => Some(w),
        Err(e) => {
            log::debug!("installing routes one by one: no writer thread: {e}");
            None
        }
    }
}

/// Where the batch sends its routes.
enum Mode {
    /// One kernel call at a time, on this thread (so far, or for good).
    Direct { added: usize, writer_ok: bool },
    /// Through the writer thread.
    Writer(Writer),
}

/// Many route additions on a [`Router`] ([`Router::batch`]).
///
/// Installing a configuration of 100,000 routes is two kinds of work: working out each
/// route (parsing, the engine, the Router's own table) and the kernel call that installs it
/// (`MRT_ADD_MFC`, serialised in the kernel). A [`RouteBatch`] does the first on the
/// caller's thread and, once the batch is large, hands the second to a writer thread
/// ([`MfcWriter`]), so both cores work and the start-up time approaches the kernel's own.
///
/// The batch keeps the Router's promises: the Router's table lists a queued route at once,
/// and after [`RouteBatch::sync`] or [`RouteBatch::finish`] it lists exactly the routes the
/// kernel took (a refused route is taken out again and reported); routes reach the kernel
/// in the order they were added; and anything else done to the Router during a batch
/// ([`RouteBatch::router`]) waits until the queued routes are in the kernel.
///
/// ```
/// # use mcroute::{platform::fake::FakeKernel, MfcEntry, Router, RouterOptions};
/// let kernel = FakeKernel::new();
/// kernel.add_interface("eth0");
/// kernel.add_interface("eth1");
/// let mut router = Router::open(kernel.platform(), RouterOptions::default())?;
/// let a = router.add_vif("eth0")?;
/// let b = router.add_vif("eth1")?;
/// let mut batch = router.batch();
/// for i in 0..1000u32 {
///     let source = std::net::Ipv4Addr::from(0xc000_0200 + (i % 250) + 1);
///     let group = std::net::Ipv4Addr::from(0xe100_0000 + i / 250 + 1);
///     batch.add_route(MfcEntry::v4(source, group, a)?.with_oif(b, 1))?;
/// }
/// assert!(batch.finish().is_empty());
/// assert_eq!(router.route_count(), 1000);
/// # Ok::<(), mcroute::Error>(())
/// ```
pub struct RouteBatch<'r, P: Platform> {
    router: &'r mut Router<P>,
    mode: Mode,
    failed: Vec<(MfcEntry, Error)>,
}

impl<'r, P: Platform> RouteBatch<'r, P> {
    pub(super) fn new(router: &'r mut Router<P>) -> RouteBatch<'r, P> {
        RouteBatch {
            router,
            mode: Mode::Direct {
                added: 0,
                writer_ok: true,
            },
            failed: Vec::new(),
        }
    }

    /// Adds a route, or replaces the route with the same (S,G), as [`Router::add_route`].
    ///
    /// Errors about the route itself (a VIF that is not the Router's) come back at once;
    /// once the batch has a writer thread, the kernel's errors come back from
    /// [`RouteBatch::sync`] or [`RouteBatch::finish`] (and the Router's table no longer
    /// lists the refused routes by then).
    pub fn add_route(&mut self, entry: MfcEntry) -> Result<()> {
        self.router.check_route_vifs(&entry)?;
        if let Mode::Direct { added, writer_ok } = &mut self.mode {
            if *added < DIRECT_ADDS || !*writer_ok {
                *added += 1;
                return self.router.add_route(entry);
            }
            match start_writer(&self.router.platform) {
                Some(w) => self.mode = Mode::Writer(w),
                None => {
                    *writer_ok = false;
                    return self.router.add_route(entry);
                }
            }
        }
        // A new route is listed at once and queued.
        match self.router.routes.held(&entry) {
            Held::Same => return Ok(()),
            // A replacement goes in directly: if the kernel refuses it, the old route
            // stays, in the kernel and in the table.
            Held::Other => return self.router().add_route(entry),
            Held::No => {
                self.router.routes.insert(&entry);
            }
        }
        let Mode::Writer(w) = &mut self.mode else {
            unreachable!("the writer was just started");
        };
        if !w.push(entry) {
            // The writer thread is gone: find out what it did, then carry on directly.
            self.stop_writer();
        }
        Ok(())
    }

    /// Waits until every route added so far is in the kernel. Returns the routes the
    /// kernel refused since the last call, with its errors; they are no longer in the
    /// Router's table.
    pub fn sync(&mut self) -> Vec<(MfcEntry, Error)> {
        self.wait_for_writer();
        std::mem::take(&mut self.failed)
    }

    /// Waits until the writer thread (if any) installed everything queued, and takes what
    /// the kernel refused out of the Router's table.
    fn wait_for_writer(&mut self) {
        if let Mode::Writer(w) = &mut self.mode {
            match w.sync() {
                Some(failed) => self.forget(failed),
                None => self.stop_writer(),
            }
        }
    }

    /// Takes refused routes out of the Router's table and keeps them for the caller.
    fn forget(&mut self, failed: Vec<(MfcEntry, Error)>) {
        for (e, err) in failed {
            if self.router.routes.holds(&e) {
                self.router.routes.remove(e.source(), e.group());
            }
            self.failed.push((e, err));
        }
    }

    /// Ends the writer thread, after it installed what it was given, and goes on directly.
    fn stop_writer(&mut self) {
        let mode = std::mem::replace(
            &mut self.mode,
            Mode::Direct {
                added: DIRECT_ADDS,
                writer_ok: false,
            },
        );
        if let Mode::Writer(mut w) = mode {
            match w.sync() {
                Some(failed) => self.forget(failed),
                None => {
                    // The thread died (it cannot, short of a bug): what it installed of
                    // the last routes queued is unknown, and the Router's table may list
                    // routes the kernel does not have; say so loudly.
                    log::error!("the route writer thread ended early; some routes may be missing");
                }
            }
            w.stop();
        }
    }

    /// The Router, for anything other than adding routes (VIFs, removals, joins): waits
    /// first until the routes queued so far are in the kernel, so that everything happens
    /// in order. Refused routes are kept for [`RouteBatch::sync`] / [`RouteBatch::finish`].
    pub fn router(&mut self) -> &mut Router<P> {
        self.wait_for_writer();
        self.router
    }

    /// The Router, to look at without waiting: its table already lists the queued routes.
    pub fn get(&self) -> &Router<P> {
        self.router
    }

    /// Waits until every route is in the kernel, ends the writer thread and returns every
    /// route the kernel refused (not yet returned by [`RouteBatch::sync`]) with its error.
    pub fn finish(mut self) -> Vec<(MfcEntry, Error)> {
        self.stop_writer();
        std::mem::take(&mut self.failed)
    }
}

impl<P: Platform> Drop for RouteBatch<'_, P> {
    /// A batch dropped without [`RouteBatch::finish`] still installs everything and keeps
    /// the Router's table true; the refused routes are logged.
    fn drop(&mut self) {
        self.stop_writer();
        for (e, err) in self.failed.drain(..) {
            log::warn!("route ({}, {}): {err}", e.source(), e.group());
        }
    }
}

#[cfg(all(test, feature = "fake"))]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use super::*;
    use crate::model::Family;
    use crate::platform::fake::FakeKernel;
    use crate::router::RouterOptions;

    fn sg(i: u32) -> (IpAddr, IpAddr) {
        (
            Ipv4Addr::from(0xc000_0200 + (i % 250) + 1).into(),
            Ipv4Addr::from(0xe100_0000 + i / 250 + 1).into(),
        )
    }

    fn setup() -> (FakeKernel, Router<crate::platform::fake::Fake>) {
        let kernel = FakeKernel::new();
        kernel.add_interface("eth0");
        kernel.add_interface("eth1");
        let mut router = Router::open(kernel.platform(), RouterOptions::default()).unwrap();
        router.add_vif("eth0").unwrap();
        router.add_vif("eth1").unwrap();
        (kernel, router)
    }

    fn entry(router: &Router<crate::platform::fake::Fake>, i: u32, ttl: u8) -> MfcEntry {
        let a = router.vif_by_name(Family::V4, "eth0").unwrap().id;
        let b = router.vif_by_name(Family::V4, "eth1").unwrap().id;
        let (s, g) = sg(i);
        MfcEntry::new(s, g, a).unwrap().with_oif(b, ttl)
    }

    #[test]
    fn a_large_batch_reaches_the_kernel_in_full() {
        let (kernel, mut router) = setup();
        let entries: Vec<MfcEntry> = (0..5000).map(|i| entry(&router, i, 1)).collect();
        let mut batch = router.batch();
        for e in entries.iter().cloned() {
            batch.add_route(e).unwrap();
        }
        assert!(
            matches!(batch.mode, Mode::Writer(_)),
            "a writer thread took over"
        );
        assert!(batch.finish().is_empty());
        let mut installed = kernel.routes(Family::V4, 0);
        installed.sort_by_key(|e| e.key());
        let mut want = entries.clone();
        want.sort_by_key(|e| e.key());
        assert_eq!(installed, want);
        assert_eq!(router.route_count(), 5000);
    }

    #[test]
    fn refused_routes_are_reported_and_left_out_of_the_table() {
        let (kernel, mut router) = setup();
        kernel.set_mfc_limit(Some(3000));
        let entries: Vec<MfcEntry> = (0..4000).map(|i| entry(&router, i, 1)).collect();
        let mut batch = router.batch();
        for e in entries.iter().cloned() {
            batch.add_route(e).unwrap();
        }
        let failed = batch.finish();
        assert_eq!(failed.len(), 1000);
        assert!(failed
            .iter()
            .all(|(_, e)| e.to_string().contains("adding MFC")));
        assert_eq!(router.route_count(), 3000);
        assert_eq!(kernel.routes(Family::V4, 0).len(), 3000);
        for (e, _) in &failed {
            assert!(router.route(e.source(), e.group()).is_none());
        }
    }

    #[test]
    fn other_changes_wait_for_the_queued_routes() {
        let (kernel, mut router) = setup();
        let entries: Vec<MfcEntry> = (0..3000).map(|i| entry(&router, i, 1)).collect();
        let mut batch = router.batch();
        for e in entries.iter().cloned() {
            batch.add_route(e).unwrap();
        }
        // A removal through the batch sees every queued route in the kernel first.
        let (s, g) = sg(2999);
        batch.router().remove_route(s, g).unwrap();
        assert_eq!(kernel.routes(Family::V4, 0).len(), 2999);
        // A replacement (new TTL) goes in at once, in order.
        batch.add_route(entry(batch.get(), 7, 5)).unwrap();
        assert!(batch.sync().is_empty());
        let (s, g) = sg(7);
        let in_kernel = kernel
            .routes(Family::V4, 0)
            .into_iter()
            .find(|e| e.key() == (s, g))
            .unwrap();
        assert_eq!(in_kernel, entry(batch.get(), 7, 5));
        drop(batch);
        assert_eq!(router.route_count(), 2999);
    }

    #[test]
    fn a_small_batch_stays_on_the_callers_thread() {
        let (kernel, mut router) = setup();
        let entries: Vec<MfcEntry> = (0..10).map(|i| entry(&router, i, 1)).collect();
        let mut batch = router.batch();
        for e in entries {
            batch.add_route(e).unwrap();
        }
        assert!(matches!(batch.mode, Mode::Direct { .. }));
        assert_eq!(kernel.routes(Family::V4, 0).len(), 10, "installed at once");
        assert!(batch.finish().is_empty());
    }
}
