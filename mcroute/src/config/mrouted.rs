//! mrouted.conf
