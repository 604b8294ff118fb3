//! Unit tests of pool selection: backups, fallback, persistence, drain and halt.

use super::*;
use crate::config::{Balance, HealthSpec, PersistSpec};
use std::time::Duration;

fn spec(balance: Balance, servers: &[(&str, u32, bool)], fallback: bool, sticky: bool) -> PoolSpec {
    PoolSpec {
        name: "p".into(),
        balance,
        persistence: sticky.then(|| PersistSpec {
            kind: PersistKind::SourceIp,
            timeout: Duration::from_secs(3600),
            cookie: "SERVERID".into(),
        }),
        fallback: fallback.then(|| "127.0.0.9:0".parse().unwrap()),
        health: HealthSpec::connect(),
        servers: servers
            .iter()
            .enumerate()
            .map(|(i, (n, w, b))| ServerSpec {
                name: n.to_string(),
                address: format!("127.0.0.1:{}", 1000 + i).parse().unwrap(),
                weight: *w,
                max_connections: 0,
                backup: *b,
                state: ServerState::Online,
                ae_title: None,
            })
            .collect(),
        default_check_port: None,
    }
}

fn key(last: u8) -> PickKey {
    PickKey {
        client: IpAddr::from([10, 0, 0, last]),
        local_port: 104,
    }
}

fn new(spec: PoolSpec) -> Arc<Pool> {
    Pool::new(spec, |_| None, None)
}

#[test]
fn backup_only_when_primaries_down() {
    let p = new(spec(
        Balance::Roundrobin,
        &[("a", 100, false), ("b", 100, true)],
        false,
        false,
    ));
    assert_eq!(p.pick(&key(1), &[]).unwrap().server().name(), "a");
    p.servers[0].set_healthy(false);
    assert_eq!(p.pick(&key(1), &[]).unwrap().server().name(), "b");
}

#[test]
fn fallback_takes_client_port() {
    let p = new(spec(Balance::First, &[("a", 100, false)], true, false));
    p.servers[0].set_state(ServerState::Halt);
    let l = p.pick(&key(1), &[]).unwrap();
    assert!(l.fallback);
    assert_eq!(l.addr, "127.0.0.9:104".parse().unwrap());
}

#[test]
fn weight_zero_takes_nothing_new() {
    let p = new(spec(
        Balance::Roundrobin,
        &[("a", 0, false), ("b", 100, false)],
        false,
        false,
    ));
    for _ in 0..10 {
        assert_eq!(p.pick(&key(1), &[]).unwrap().server().name(), "b");
    }
}

#[test]
fn exclude_moves_on_and_lease_counts() {
    let p = new(spec(
        Balance::First,
        &[("a", 100, false), ("b", 100, false)],
        false,
        false,
    ));
    let a = p.pick(&key(1), &[]).unwrap();
    assert_eq!(p.servers[0].active(), 1);
    let b = p.pick(&key(1), &[a.server().clone()]).unwrap();
    assert_eq!(b.server().name(), "b");
    drop(a);
    assert_eq!(p.servers[0].active(), 0);
    assert!(p
        .pick(&key(1), &[p.servers[0].clone(), p.servers[1].clone()])
        .is_none());
}

#[test]
fn persistence_drain_keeps_halt_repicks() {
    let p = new(spec(
        Balance::Roundrobin,
        &[("a", 100, false), ("b", 100, false)],
        false,
        true,
    ));
    let first = p.pick(&key(7), &[]).unwrap().server().name().to_string();
    for _ in 0..5 {
        assert_eq!(p.pick(&key(7), &[]).unwrap().server().name(), first);
    }
    let s = p.server(&first).unwrap().clone();
    s.set_state(ServerState::Drain);
    assert_eq!(
        p.pick(&key(7), &[]).unwrap().server().name(),
        first,
        "drain keeps persistent clients"
    );
    assert_ne!(
        p.pick(&key(8), &[]).unwrap().server().name(),
        first,
        "drain takes no new clients"
    );
    s.set_state(ServerState::Halt);
    assert_ne!(
        p.pick(&key(7), &[]).unwrap().server().name(),
        first,
        "halt re-picks"
    );
}

#[test]
fn persistence_ignores_down_server() {
    let p = new(spec(
        Balance::Roundrobin,
        &[("a", 100, false), ("b", 100, false)],
        false,
        true,
    ));
    let first = p.pick(&key(7), &[]).unwrap().server().name().to_string();
    p.server(&first).unwrap().set_healthy(false);
    let second = p.pick(&key(7), &[]).unwrap().server().name().to_string();
    assert_ne!(first, second);
    p.server(&first).unwrap().set_healthy(true);
    assert_eq!(
        p.pick(&key(7), &[]).unwrap().server().name(),
        second,
        "re-picked entry sticks"
    );
}

#[test]
fn max_connections_overflows_to_next() {
    let mut s = spec(
        Balance::First,
        &[("a", 100, false), ("b", 100, false)],
        false,
        false,
    );
    s.servers[0].max_connections = 1;
    let p = new(s);
    let _a = p.pick(&key(1), &[]).unwrap();
    assert_eq!(p.pick(&key(1), &[]).unwrap().server().name(), "b");
}

#[test]
fn reload_reuses_unchanged_servers() {
    let s = spec(Balance::First, &[("a", 100, false)], false, true);
    let p1 = new(s.clone());
    p1.servers[0].set_healthy(false);
    let p2 = Pool::new(
        s,
        |sp| p1.servers.iter().find(|x| x.spec == *sp).cloned(),
        p1.sticky.clone(),
    );
    assert!(Arc::ptr_eq(&p1.servers[0], &p2.servers[0]));
    assert!(!p2.servers[0].healthy());
    assert!(Arc::ptr_eq(
        p1.sticky.as_ref().unwrap(),
        p2.sticky.as_ref().unwrap()
    ));
}
