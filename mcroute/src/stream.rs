//! Async upcalls on tokio (feature `tokio`).
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! use futures_core::Stream;
//! use mcroute::{platform::Native, stream::AsyncRouter, Router, RouterOptions};
//!
//! let router = Router::open(Native::new()?, RouterOptions::default())?;
//! let mut router = AsyncRouter::new(router)?;
//! while let Some(upcall) = router.next_upcall().await {
//!     let upcall = upcall?;
//!     println!("{upcall}");
//!     // router.get_mut().add_route(...) to answer it
//! }
//! # Ok(()) }
//! ```

use std::future::poll_fn;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::unix::AsyncFd;

use crate::error::Result;
use crate::link::{LinkEvent, LinkMonitor};
use crate::platform::{Incoming, Platform};
use crate::router::Router;
use crate::sys::reactor;
use crate::wire::upcall::Upcall;

/// A [`Router`] registered with the tokio reactor: a [`Stream`](futures_core::Stream) of
/// upcalls, with the Router still reachable for installing routes.
///
/// The reactor watches a duplicate of the platform's upcall descriptor that this object
/// owns, so nothing done to the Router through [`AsyncRouter::get_mut`] can close the
/// descriptor under the reactor.
pub struct AsyncRouter<P: Platform> {
    fd: AsyncFd<OwnedFd>,
    router: Router<P>,
}

impl<P: Platform> AsyncRouter<P> {
    /// Registers `router` with the current tokio runtime.
    pub fn new(router: Router<P>) -> io::Result<AsyncRouter<P>> {
        let fd = reactor::register(router.as_fd().try_clone_to_owned()?)?;
        Ok(AsyncRouter { fd, router })
    }

    /// The router.
    pub fn get_ref(&self) -> &Router<P> {
        &self.router
    }

    /// The router, to install routes and VIFs.
    pub fn get_mut(&mut self) -> &mut Router<P> {
        &mut self.router
    }

    /// Polls for the next upcall.
    pub fn poll_upcall(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Upcall>>> {
        loop {
            let mut guard = ready!(self.fd.poll_read_ready(cx))
                .map_err(|e| crate::Error::io("waiting for upcalls", e))?;
            match self.router.recv_upcall() {
                Ok(Some(u)) => return Poll::Ready(Some(Ok(u))),
                Ok(None) => guard.clear_ready(),
                Err(e) => return Poll::Ready(Some(Err(e))),
            }
        }
    }

    /// Waits for the next upcall.
    pub async fn next_upcall(&mut self) -> Option<Result<Upcall>> {
        poll_fn(|cx| self.poll_upcall(cx)).await
    }

    /// Polls for the next upcall or IGMP/DVMRP packet (see [`Router::recv`]).
    pub fn poll_incoming(&mut self, cx: &mut Context<'_>) -> Poll<Result<Incoming>> {
        loop {
            let mut guard = ready!(self.fd.poll_read_ready(cx))
                .map_err(|e| crate::Error::io("waiting for upcalls", e))?;
            match self.router.recv() {
                Ok(Some(i)) => return Poll::Ready(Ok(i)),
                Ok(None) => guard.clear_ready(),
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// Waits for the next upcall or IGMP/DVMRP packet.
    pub async fn next_incoming(&mut self) -> Result<Incoming> {
        poll_fn(|cx| self.poll_incoming(cx)).await
    }

    /// Unregisters and returns the router.
    pub fn into_inner(self) -> Router<P> {
        self.router
    }
}

impl<P: Platform + Unpin> futures_core::Stream for AsyncRouter<P> {
    type Item = Result<Upcall>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_upcall(cx)
    }
}

/// A [`LinkMonitor`] registered with the tokio reactor.
pub struct AsyncLinkMonitor {
    fd: AsyncFd<OwnedFd>,
    mon: LinkMonitor,
}

impl AsyncLinkMonitor {
    /// Opens a link monitor and registers it with the current tokio runtime.
    pub fn open() -> Result<AsyncLinkMonitor> {
        let mon = LinkMonitor::open()?;
        let fd = mon
            .as_fd()
            .try_clone_to_owned()
            .and_then(reactor::register)
            .map_err(|e| crate::Error::io("registering the link monitor", e))?;
        Ok(AsyncLinkMonitor { fd, mon })
    }

    /// Waits for interface events (one or more).
    pub async fn next_events(&mut self) -> Result<Vec<LinkEvent>> {
        loop {
            let mut guard = self
                .fd
                .readable()
                .await
                .map_err(|e| crate::Error::io("waiting for interface events", e))?;
            let events = self.mon.recv()?;
            if events.is_empty() {
                guard.clear_ready();
            } else {
                return Ok(events);
            }
        }
    }
}
