//! The system's interfaces from `getifaddrs` (shared by the Unix backends).

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;

use crate::error::{Error, Result};
use crate::model::Interface;
use crate::sys::unix as sys;

/// The system's interfaces, one entry per name, with their addresses (`getifaddrs`).
pub fn list_interfaces() -> Result<Vec<Interface>> {
    use nix::net::if_::InterfaceFlags;
    let addrs = nix::ifaddrs::getifaddrs()
        .map_err(|e| Error::io("listing interfaces (getifaddrs)", io::Error::from(e)))?;
    let mut out: Vec<Interface> = Vec::new();
    let mut by_name: HashMap<String, usize> = HashMap::new();
    for a in addrs {
        let i = match by_name.get(&a.interface_name) {
            Some(&i) => i,
            None => {
                let Some(index) = sys::if_nametoindex(&a.interface_name) else {
                    continue;
                };
                out.push(Interface {
                    index,
                    name: a.interface_name.clone(),
                    up: a.flags.contains(InterfaceFlags::IFF_UP),
                    multicast: a.flags.contains(InterfaceFlags::IFF_MULTICAST),
                    loopback: a.flags.contains(InterfaceFlags::IFF_LOOPBACK),
                    point_to_point: a.flags.contains(InterfaceFlags::IFF_POINTOPOINT),
                    addrs: Vec::new(),
                });
                by_name.insert(a.interface_name.clone(), out.len() - 1);
                out.len() - 1
            }
        };
        let prefix = |mask: Option<IpAddr>| -> u8 {
            match mask {
                Some(IpAddr::V4(m)) => u32::from(m).count_ones() as u8,
                Some(IpAddr::V6(m)) => u128::from(m).count_ones() as u8,
                None => 0,
            }
        };
        let addr = a.address.as_ref().and_then(|s| {
            s.as_sockaddr_in()
                .map(|v4| IpAddr::V4(v4.ip()))
                .or_else(|| s.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip())))
        });
        let mask = a.netmask.as_ref().and_then(|s| {
            s.as_sockaddr_in()
                .map(|v4| IpAddr::V4(v4.ip()))
                .or_else(|| s.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip())))
        });
        if let Some(addr) = addr {
            if let Ok(net) = ipnet::IpNet::new(addr, prefix(mask)) {
                out[i].addrs.push(net);
            }
        }
    }
    out.sort_by_key(|i| i.index);
    Ok(out)
}

/// The index of the interface called `name`, or [`Error::NoSuchInterface`].
pub fn interface_index(name: &str) -> Result<u32> {
    sys::if_nametoindex(name).ok_or_else(|| Error::NoSuchInterface(name.to_string()))
}
