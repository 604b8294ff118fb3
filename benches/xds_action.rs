//! Criterion benches of the SOAP action lookup an `xds` service makes for every request whose
//! Content-Type names no action: `parse_content_type` and [`ActionFinder`] over the ITI-18
//! request fixture (plain SOAP 1.2, one chunk as it usually arrives, and drip-fed in 64-byte
//! chunks, and with a connection's `HeaderMemo`: of the same header but another
//! `wsa:MessageID`, as a client's next request, and of another header, the worst case:
//! headers that differ each time, scanned and remembered) and over the ITI-41 MTOM fixture
//! (root part located by boundary and `start`).
//!
//! Run: `cargo bench --bench xds_action`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use triage_xds::{parse_content_type, ActionFinder, FindState, HeaderMemo, XdsError};

const ITI18: &[u8] = include_bytes!("../fixtures/xds/iti18-request.xml");
const ITI18_CT: &str = "application/soap+xml; charset=UTF-8";
const MTOM: &[u8] = include_bytes!("../fixtures/xds/iti41-mtom.txt");
const MTOM_CT: &str = include_str!("../fixtures/xds/iti41-mtom.ct");
const BUDGET: usize = 64 * 1024;

/// The action found in `body` fed in `chunk`-byte pieces (the whole body when 0).
fn find(ct: &str, body: &[u8], chunk: usize) -> Option<String> {
    let ct = parse_content_type(ct).expect("fixture Content-Type");
    let mut f = ActionFinder::new(&ct, BUDGET);
    let size = if chunk == 0 { body.len() } else { chunk };
    for piece in body.chunks(size) {
        if let Ok(FindState::Found(info)) = f.feed(piece) {
            return info.action;
        }
    }
    match f.finish() {
        Ok(FindState::Found(info)) => info.action,
        _ => None,
    }
}

/// One ITI-18 lookup with a connection's memo, as the gateway makes it: taken, given back.
fn with_memo(memo: &mut HeaderMemo, body: &[u8]) -> Result<FindState, XdsError> {
    let ct = parse_content_type(black_box(ITI18_CT)).expect("fixture Content-Type");
    let mut f = ActionFinder::with_memo(&ct, BUDGET, std::mem::take(memo));
    let r = f.feed(body);
    *memo = f.into_memo();
    r
}

fn benches(c: &mut Criterion) {
    let mtom_ct = MTOM_CT.trim();
    // The benches measure the path that finds an action.
    assert!(find(ITI18_CT, ITI18, 0).is_some());
    assert!(find(mtom_ct, MTOM, 0).is_some());
    let mut g = c.benchmark_group("xds_action");
    g.bench_function("content_type/soap", |b| {
        b.iter(|| parse_content_type(black_box(ITI18_CT)))
    });
    g.bench_function("content_type/mtom", |b| {
        b.iter(|| parse_content_type(black_box(mtom_ct)))
    });
    g.throughput(Throughput::Bytes(ITI18.len() as u64));
    g.bench_function("iti18/one_chunk", |b| {
        b.iter(|| find(ITI18_CT, black_box(ITI18), 0))
    });
    let next = String::from_utf8_lossy(ITI18)
        .replace(
            "a02ca8cd-86fa-4afc-a27c-16c183b20555",
            "00000000-0000-0000-0000-000000000002",
        )
        .into_bytes();
    let ct = parse_content_type(ITI18_CT).expect("fixture Content-Type");
    let mut f = ActionFinder::new(&ct, BUDGET);
    assert!(matches!(f.feed(ITI18), Ok(FindState::Found(_))));
    let mut memo: HeaderMemo = f.into_memo();
    g.bench_function("iti18/repeat_header", |b| {
        b.iter(|| with_memo(&mut memo, black_box(&next)))
    });
    // Two headers in turn (another wsa:To): every request misses the memo.
    let other = String::from_utf8_lossy(ITI18)
        .replace("registry.example.invalid", "registry2.example.invalid")
        .into_bytes();
    let mut k = 0usize;
    g.bench_function("iti18/changed_header", |b| {
        b.iter(|| {
            k += 1;
            let body = if k % 2 == 0 { &other } else { &next };
            with_memo(&mut memo, black_box(body))
        })
    });
    g.bench_function("iti18/64_byte_chunks", |b| {
        b.iter(|| find(ITI18_CT, black_box(ITI18), 64))
    });
    g.throughput(Throughput::Bytes(MTOM.len() as u64));
    g.bench_function("iti41_mtom/one_chunk", |b| {
        b.iter(|| find(mtom_ct, black_box(MTOM), 0))
    });
    g.finish();
}

criterion_group!(action, benches);
criterion_main!(action);
