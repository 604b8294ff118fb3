//! Criterion benches of the SOAP action lookup an `xds` service makes for every request whose
//! Content-Type names no action: `parse_content_type` and [`ActionFinder`] over the ITI-18
//! request fixture (plain SOAP 1.2, one chunk as it usually arrives, and drip-fed in 64-byte
//! chunks) and over the ITI-41 MTOM fixture (root part located by boundary and `start`).
//!
//! Run: `cargo bench --bench xds_action`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use triage_xds::{parse_content_type, ActionFinder, FindState};

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
