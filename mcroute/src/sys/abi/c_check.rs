//! Compares every size and field offset of `sys::abi::linux` with what the C compiler
//! says for `/usr/include/linux/mroute.h` and `mroute6.h`.

use std::collections::BTreeMap;
use std::mem::{offset_of, size_of};
use std::process::Command;

use super::linux::*;

const C_PROGRAM: &str = r#"
#include <stdio.h>
#include <stddef.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/mroute.h>
#include <linux/mroute6.h>
#define S(t) printf("%s %zu\n", #t, sizeof(struct t));
#define O(t, f) printf("%s.%s %zu\n", #t, #f, offsetof(struct t, f));
#define C(c) printf("%s %ld\n", #c, (long)(c));
int main(void) {
    S(vifctl) O(vifctl, vifc_vifi) O(vifctl, vifc_flags) O(vifctl, vifc_threshold)
    O(vifctl, vifc_rate_limit) O(vifctl, vifc_lcl_addr) O(vifctl, vifc_lcl_ifindex)
    O(vifctl, vifc_rmt_addr)
    S(mfcctl) O(mfcctl, mfcc_origin) O(mfcctl, mfcc_mcastgrp) O(mfcctl, mfcc_parent)
    O(mfcctl, mfcc_ttls) O(mfcctl, mfcc_pkt_cnt) O(mfcctl, mfcc_byte_cnt)
    O(mfcctl, mfcc_wrong_if) O(mfcctl, mfcc_expire)
    S(sioc_sg_req) O(sioc_sg_req, src) O(sioc_sg_req, grp) O(sioc_sg_req, pktcnt)
    O(sioc_sg_req, bytecnt) O(sioc_sg_req, wrong_if)
    S(sioc_vif_req) O(sioc_vif_req, vifi) O(sioc_vif_req, icount) O(sioc_vif_req, ocount)
    O(sioc_vif_req, ibytes) O(sioc_vif_req, obytes)
    S(igmpmsg) O(igmpmsg, unused1) O(igmpmsg, unused2) O(igmpmsg, im_msgtype)
    O(igmpmsg, im_mbz) O(igmpmsg, im_vif) O(igmpmsg, im_vif_hi) O(igmpmsg, im_src)
    O(igmpmsg, im_dst)
    S(mif6ctl) O(mif6ctl, mif6c_mifi) O(mif6ctl, mif6c_flags) O(mif6ctl, vifc_threshold)
    O(mif6ctl, mif6c_pifi) O(mif6ctl, vifc_rate_limit)
    S(mf6cctl) O(mf6cctl, mf6cc_origin) O(mf6cctl, mf6cc_mcastgrp) O(mf6cctl, mf6cc_parent)
    O(mf6cctl, mf6cc_ifset)
    S(mrt6msg) O(mrt6msg, im6_mbz) O(mrt6msg, im6_msgtype) O(mrt6msg, im6_mif)
    O(mrt6msg, im6_pad) O(mrt6msg, im6_src) O(mrt6msg, im6_dst)
    S(sioc_sg_req6) O(sioc_sg_req6, src) O(sioc_sg_req6, grp) O(sioc_sg_req6, pktcnt)
    O(sioc_sg_req6, bytecnt) O(sioc_sg_req6, wrong_if)
    S(sioc_mif_req6) O(sioc_mif_req6, mifi) O(sioc_mif_req6, icount) O(sioc_mif_req6, ocount)
    O(sioc_mif_req6, ibytes) O(sioc_mif_req6, obytes)
    S(sockaddr_in6) S(if_set)
    C(MRT_INIT) C(MRT_DONE) C(MRT_ADD_VIF) C(MRT_DEL_VIF) C(MRT_ADD_MFC) C(MRT_DEL_MFC)
    C(MRT_VERSION) C(MRT_ASSERT) C(MRT_PIM) C(MRT_TABLE) C(MRT_ADD_MFC_PROXY)
    C(MRT_DEL_MFC_PROXY) C(MRT_FLUSH) C(MRT_FLUSH_MFC) C(MRT_FLUSH_MFC_STATIC)
    C(MRT_FLUSH_VIFS) C(MRT_FLUSH_VIFS_STATIC)
    C(MRT6_INIT) C(MRT6_DONE) C(MRT6_ADD_MIF) C(MRT6_DEL_MIF) C(MRT6_ADD_MFC) C(MRT6_DEL_MFC)
    C(MRT6_VERSION) C(MRT6_ASSERT) C(MRT6_PIM) C(MRT6_TABLE) C(MRT6_ADD_MFC_PROXY)
    C(MRT6_DEL_MFC_PROXY) C(MRT6_FLUSH)
    C(SIOCGETVIFCNT) C(SIOCGETSGCNT) C(SIOCGETRPF) C(SIOCGETMIFCNT_IN6) C(SIOCGETSGCNT_IN6)
    C(MAXVIFS) C(MAXMIFS) C(VIFF_TUNNEL) C(VIFF_SRCRT) C(VIFF_REGISTER) C(VIFF_USE_IFINDEX)
    C(MIFF_REGISTER) C(IGMPMSG_NOCACHE) C(IGMPMSG_WRONGVIF) C(IGMPMSG_WHOLEPKT)
    C(IGMPMSG_WRVIFWHOLE) C(MRT6MSG_NOCACHE) C(MRT6MSG_WRONGMIF) C(MRT6MSG_WHOLEPKT)
    C(MRT6MSG_WRMIFWHOLE)
    return 0;
}
"#;

macro_rules! s {
    ($m:ident, $t:ident) => {
        $m.insert(stringify!($t).to_string(), size_of::<$t>() as i64);
    };
}
macro_rules! o {
    ($m:ident, $t:ident, $($f:tt)+) => {
        $m.insert(
            format!("{}.{}", stringify!($t), o!(@name $($f)+)),
            offset_of!($t, $($f)+) as i64,
        );
    };
    (@name $f:ident) => { stringify!($f) };
    (@name $u:ident . $f:ident) => { stringify!($f) };
}
macro_rules! c {
    ($m:ident, $($c:ident),+) => { $( $m.insert(stringify!($c).to_string(), $c as i64); )+ };
}

fn rust_side() -> BTreeMap<String, i64> {
    let mut m = BTreeMap::new();
    s!(m, vifctl);
    o!(m, vifctl, vifc_vifi);
    o!(m, vifctl, vifc_flags);
    o!(m, vifctl, vifc_threshold);
    o!(m, vifctl, vifc_rate_limit);
    m.insert(
        "vifctl.vifc_lcl_addr".into(),
        (offset_of!(vifctl, vifc_lcl) + offset_of!(VifcLcl, vifc_lcl_addr)) as i64,
    );
    m.insert(
        "vifctl.vifc_lcl_ifindex".into(),
        (offset_of!(vifctl, vifc_lcl) + offset_of!(VifcLcl, vifc_lcl_ifindex)) as i64,
    );
    o!(m, vifctl, vifc_rmt_addr);
    s!(m, mfcctl);
    o!(m, mfcctl, mfcc_origin);
    o!(m, mfcctl, mfcc_mcastgrp);
    o!(m, mfcctl, mfcc_parent);
    o!(m, mfcctl, mfcc_ttls);
    o!(m, mfcctl, mfcc_pkt_cnt);
    o!(m, mfcctl, mfcc_byte_cnt);
    o!(m, mfcctl, mfcc_wrong_if);
    o!(m, mfcctl, mfcc_expire);
    s!(m, sioc_sg_req);
    o!(m, sioc_sg_req, src);
    o!(m, sioc_sg_req, grp);
    o!(m, sioc_sg_req, pktcnt);
    o!(m, sioc_sg_req, bytecnt);
    o!(m, sioc_sg_req, wrong_if);
    s!(m, sioc_vif_req);
    o!(m, sioc_vif_req, vifi);
    o!(m, sioc_vif_req, icount);
    o!(m, sioc_vif_req, ocount);
    o!(m, sioc_vif_req, ibytes);
    o!(m, sioc_vif_req, obytes);
    s!(m, igmpmsg);
    o!(m, igmpmsg, unused1);
    o!(m, igmpmsg, unused2);
    o!(m, igmpmsg, im_msgtype);
    o!(m, igmpmsg, im_mbz);
    o!(m, igmpmsg, im_vif);
    o!(m, igmpmsg, im_vif_hi);
    o!(m, igmpmsg, im_src);
    o!(m, igmpmsg, im_dst);
    s!(m, mif6ctl);
    o!(m, mif6ctl, mif6c_mifi);
    o!(m, mif6ctl, mif6c_flags);
    o!(m, mif6ctl, vifc_threshold);
    o!(m, mif6ctl, mif6c_pifi);
    o!(m, mif6ctl, vifc_rate_limit);
    s!(m, mf6cctl);
    o!(m, mf6cctl, mf6cc_origin);
    o!(m, mf6cctl, mf6cc_mcastgrp);
    o!(m, mf6cctl, mf6cc_parent);
    o!(m, mf6cctl, mf6cc_ifset);
    s!(m, mrt6msg);
    o!(m, mrt6msg, im6_mbz);
    o!(m, mrt6msg, im6_msgtype);
    o!(m, mrt6msg, im6_mif);
    o!(m, mrt6msg, im6_pad);
    o!(m, mrt6msg, im6_src);
    o!(m, mrt6msg, im6_dst);
    s!(m, sioc_sg_req6);
    o!(m, sioc_sg_req6, src);
    o!(m, sioc_sg_req6, grp);
    o!(m, sioc_sg_req6, pktcnt);
    o!(m, sioc_sg_req6, bytecnt);
    o!(m, sioc_sg_req6, wrong_if);
    s!(m, sioc_mif_req6);
    o!(m, sioc_mif_req6, mifi);
    o!(m, sioc_mif_req6, icount);
    o!(m, sioc_mif_req6, ocount);
    o!(m, sioc_mif_req6, ibytes);
    o!(m, sioc_mif_req6, obytes);
    s!(m, sockaddr_in6);
    s!(m, if_set);
    c!(
        m,
        MRT_INIT,
        MRT_DONE,
        MRT_ADD_VIF,
        MRT_DEL_VIF,
        MRT_ADD_MFC,
        MRT_DEL_MFC,
        MRT_VERSION,
        MRT_ASSERT,
        MRT_PIM,
        MRT_TABLE,
        MRT_ADD_MFC_PROXY,
        MRT_DEL_MFC_PROXY,
        MRT_FLUSH,
        MRT_FLUSH_MFC,
        MRT_FLUSH_MFC_STATIC,
        MRT_FLUSH_VIFS,
        MRT_FLUSH_VIFS_STATIC,
        MRT6_INIT,
        MRT6_DONE,
        MRT6_ADD_MIF,
        MRT6_DEL_MIF,
        MRT6_ADD_MFC,
        MRT6_DEL_MFC,
        MRT6_VERSION,
        MRT6_ASSERT,
        MRT6_PIM,
        MRT6_TABLE,
        MRT6_ADD_MFC_PROXY,
        MRT6_DEL_MFC_PROXY,
        MRT6_FLUSH,
        SIOCGETVIFCNT,
        SIOCGETSGCNT,
        SIOCGETRPF,
        SIOCGETMIFCNT_IN6,
        SIOCGETSGCNT_IN6,
        MAXMIFS,
        VIFF_TUNNEL,
        VIFF_SRCRT,
        VIFF_REGISTER,
        VIFF_USE_IFINDEX,
        MIFF_REGISTER,
        IGMPMSG_NOCACHE,
        IGMPMSG_WRONGVIF,
        IGMPMSG_WHOLEPKT,
        IGMPMSG_WRVIFWHOLE,
        MRT6MSG_NOCACHE,
        MRT6MSG_WRONGMIF,
        MRT6MSG_WHOLEPKT,
        MRT6MSG_WRMIFWHOLE
    );
    m.insert("MAXVIFS".into(), MAXVIFS_LINUX as i64);
    m
}

#[test]
fn layouts_match_linux_headers() {
    let dir = std::env::temp_dir().join(format!("mcroute-abi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("abi.c");
    let bin = dir.join("abi");
    std::fs::write(&src, C_PROGRAM).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = Command::new(&cc)
        .arg("-o")
        .arg(&bin)
        .arg(&src)
        .output()
        .unwrap_or_else(|e| panic!("cannot run the C compiler {cc:?}: {e} (install gcc)"));
    assert!(
        out.status.success(),
        "C program failed to compile against /usr/include/linux/mroute*.h:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = Command::new(&bin).output().unwrap();
    assert!(run.status.success());
    let _ = std::fs::remove_dir_all(&dir);
    let c: BTreeMap<String, i64> = String::from_utf8(run.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (k.to_string(), v.parse().unwrap())
        })
        .collect();
    let rust = rust_side();
    assert_eq!(
        c.keys().collect::<Vec<_>>(),
        rust.keys().collect::<Vec<_>>(),
        "both sides must describe the same items"
    );
    let mismatches: Vec<String> = c
        .iter()
        .filter(|(k, v)| rust[*k] != **v)
        .map(|(k, v)| format!("{k}: C says {v}, Rust has {}", rust[k]))
        .collect();
    assert!(
        mismatches.is_empty(),
        "ABI mismatches:\n{}",
        mismatches.join("\n")
    );
    assert!(
        c.len() > 100,
        "expected every field to be compared, got {}",
        c.len()
    );
}
