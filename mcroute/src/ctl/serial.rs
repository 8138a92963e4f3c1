//! How the fields of the control types that are not plain strings and numbers are written in
//! JSON (`#[serde(with = ...)]` helpers): prefixes as smcroute prints them, DVMRP version
//! pairs as `"3.255"`, and the tuples of the DVMRP rows as objects with named fields.

use std::net::Ipv4Addr;

use ipnet::IpNet;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::fmt_net;

/// Parses a prefix as [`fmt_net`] prints it: `addr` (a host prefix) or `addr/len`.
pub(crate) fn parse_net(s: &str) -> Option<IpNet> {
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<std::net::IpAddr>().ok().map(IpNet::from))
}

/// An `IpNet` as `"192.0.2.10"` (host prefix) or `"192.0.2.0/24"`.
pub(crate) mod net {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(n: &IpNet, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&fmt_net(n))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<IpNet, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        parse_net(&s).ok_or_else(|| D::Error::custom(format!("invalid address {s:?}")))
    }
}

/// An `Option<IpNet>` as a string or `null`.
pub(crate) mod opt_net {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(n: &Option<IpNet>, s: S) -> Result<S::Ok, S::Error> {
        match n {
            Some(n) => s.collect_str(&fmt_net(n)),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<IpNet>, D::Error> {
        match <Option<std::borrow::Cow<'de, str>>>::deserialize(d)? {
            None => Ok(None),
            Some(s) => parse_net(&s)
                .map(Some)
                .ok_or_else(|| D::Error::custom(format!("invalid address {s:?}"))),
        }
    }
}

/// A DVMRP `(major, minor)` version as `"3.255"`.
pub(crate) mod version {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(v: &(u8, u8), s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{}.{}", v.0, v.1))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<(u8, u8), D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.split_once('.')
            .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
            .ok_or_else(|| D::Error::custom(format!("invalid version {s:?}")))
    }
}

#[derive(Serialize, Deserialize)]
struct Child {
    vif: u16,
    leaf: bool,
}

/// Child VIFs `(vif, has dependents)` as `{"vif":N,"leaf":BOOL}` (a leaf has none).
pub(crate) mod children {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(v: &[(u16, bool)], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|&(vif, deps)| Child { vif, leaf: !deps }))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<(u16, bool)>, D::Error> {
        Ok(Vec::<Child>::deserialize(d)?
            .into_iter()
            .map(|c| (c.vif, !c.leaf))
            .collect())
    }
}

#[derive(Serialize, Deserialize)]
struct Dependent {
    vif: u16,
    router: Ipv4Addr,
}

/// Dependent routers `(vif, router)` as `{"vif":N,"router":STRING}`.
pub(crate) mod dependents {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(v: &[(u16, Ipv4Addr)], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|&(vif, router)| Dependent { vif, router }))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<(u16, Ipv4Addr)>, D::Error> {
        Ok(Vec::<Dependent>::deserialize(d)?
            .into_iter()
            .map(|x| (x.vif, x.router))
            .collect())
    }
}

#[derive(Serialize, Deserialize)]
struct PrunedBy {
    interface: String,
    router: Ipv4Addr,
}

/// Prunes received `(interface, router)` as `{"interface":STRING,"router":STRING}`.
pub(crate) mod pruned_by {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        v: &[(String, Ipv4Addr)],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|(i, router)| PrunedBy {
            interface: i.clone(),
            router: *router,
        }))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<(String, Ipv4Addr)>, D::Error> {
        Ok(Vec::<PrunedBy>::deserialize(d)?
            .into_iter()
            .map(|x| (x.interface, x.router))
            .collect())
    }
}

#[derive(Serialize, Deserialize)]
struct VifCounters {
    pkts_in: u64,
    pkts_out: u64,
    bytes_in: u64,
    bytes_out: u64,
}

/// A VIF's counters `[packets in, packets out, bytes in, bytes out]`, flattened into the row
/// as `pkts_in`, `pkts_out`, `bytes_in`, `bytes_out` (absent without `-d`).
pub(crate) mod vif_counters {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(v: &Option<[u64; 4]>, s: S) -> Result<S::Ok, S::Error> {
        v.map(|c| VifCounters {
            pkts_in: c[0],
            pkts_out: c[1],
            bytes_in: c[2],
            bytes_out: c[3],
        })
        .serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<[u64; 4]>, D::Error> {
        Ok(Option::<VifCounters>::deserialize(d)?
            .map(|c| [c.pkts_in, c.pkts_out, c.bytes_in, c.bytes_out]))
    }
}

#[derive(Serialize, Deserialize)]
struct FlowCounters {
    packets: u64,
    bytes: u64,
}

/// A flow's `(packets, bytes)`, flattened into the row as `packets` and `bytes` (absent
/// without `-d`).
pub(crate) mod flow_counters {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        v: &Option<(u64, u64)>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        v.map(|(packets, bytes)| FlowCounters { packets, bytes })
            .serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<(u64, u64)>, D::Error> {
        Ok(Option::<FlowCounters>::deserialize(d)?.map(|c| (c.packets, c.bytes)))
    }
}
