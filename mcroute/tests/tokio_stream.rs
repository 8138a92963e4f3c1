//! The async upcall stream, driven by the fake kernel.
#![cfg(feature = "tokio")]

use std::time::Duration;

use mcroute::platform::fake::{Delivery, FakeKernel};
use mcroute::stream::AsyncRouter;
use mcroute::{MfcEntry, Router, RouterOptions, UpcallKind};

#[tokio::test]
async fn upcalls_arrive_as_a_stream_and_routes_can_be_installed() {
    let kernel = FakeKernel::new();
    let a1 = kernel.add_interface("a1");
    let a2 = kernel.add_interface("a2");
    let mut r = Router::open(kernel.platform(), RouterOptions::default()).unwrap();
    let v1 = r.add_vif("a1").unwrap();
    let v2 = r.add_vif("a2").unwrap();
    let mut ar = AsyncRouter::new(r).unwrap();

    let k2 = kernel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        for i in 1..=3u8 {
            let src = format!("192.0.2.{i}").parse().unwrap();
            k2.receive(0, a1, src, "225.1.1.1".parse().unwrap(), 100);
        }
    });
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let u = tokio::time::timeout(Duration::from_secs(5), ar.next_upcall())
            .await
            .expect("upcall within 5 s")
            .expect("stream open")
            .expect("no error");
        assert_eq!(u.kind(), UpcallKind::NoCache);
        let std::net::IpAddr::V4(s) = u.source() else {
            panic!("v4")
        };
        let std::net::IpAddr::V4(g) = u.group() else {
            panic!("v4")
        };
        ar.get_mut()
            .add_route(MfcEntry::v4(s, g, v1).unwrap().with_oif(v2, 1))
            .unwrap();
        seen.push(s);
    }
    assert_eq!(seen.len(), 3);
    assert_eq!(
        kernel.receive(
            0,
            a1,
            "192.0.2.2".parse().unwrap(),
            "225.1.1.1".parse().unwrap(),
            10
        ),
        Delivery::Forwarded(vec![a2])
    );
    assert_eq!(ar.get_ref().route_count(), 3);
}
