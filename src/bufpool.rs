//! Process-wide pools of buffers. Relay buffers: a connection borrows one only between "the
//! socket is readable" and "the bytes were written out", so idle connections hold no buffer at
//! all. PDU buffers ([`take_vec`]): a DICOM association's A-ASSOCIATE-RQ and -AC are read into
//! one each and given back once forwarded (two 16 KiB `malloc`/`free` pairs per association
//! less; glibc serves such sizes from its unsorted bins, after consolidating the small ones).

use std::sync::Mutex;

/// Size of one relay buffer.
pub const BUF_SIZE: usize = 32 * 1024;
/// Buffers kept for reuse; beyond that they are freed.
const KEEP: usize = 256;

static POOL: Mutex<Vec<Box<[u8]>>> = Mutex::new(Vec::new());

/// A borrowed buffer; returned to the pool on drop.
#[derive(Debug)]
pub struct Buf(Option<Box<[u8]>>);

impl Buf {
    pub fn get() -> Buf {
        let b = POOL.lock().ok().and_then(|mut p| p.pop());
        Buf(Some(
            b.unwrap_or_else(|| vec![0u8; BUF_SIZE].into_boxed_slice()),
        ))
    }
}

impl std::ops::Deref for Buf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.0.as_deref().unwrap_or(&[])
    }
}

impl std::ops::DerefMut for Buf {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.0.as_deref_mut().unwrap_or(&mut [])
    }
}

impl Drop for Buf {
    fn drop(&mut self) {
        if let (Some(b), Ok(mut p)) = (self.0.take(), POOL.lock()) {
            if p.len() < KEEP {
                p.push(b);
            }
        }
    }
}

/// Capacity of a pooled PDU buffer.
pub const VEC_SIZE: usize = 16 * 1024;
/// PDU buffers kept (enough for as many association set-ups at the same moment; 256 KiB).
const KEEP_VECS: usize = 16;

static VECS: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// An empty buffer with room for [`VEC_SIZE`] bytes, from the pool if it has one.
pub fn take_vec() -> Vec<u8> {
    let v = VECS.lock().ok().and_then(|mut p| p.pop());
    v.unwrap_or_else(|| Vec::with_capacity(VEC_SIZE))
}

/// Gives a buffer back for [`take_vec`]; one grown far beyond [`VEC_SIZE`] (a large PDU) is
/// freed instead, so the pool stays at most `KEEP_VECS` × 64 KiB.
pub fn give_vec(mut v: Vec<u8>) {
    if !(VEC_SIZE..=4 * VEC_SIZE).contains(&v.capacity()) {
        return;
    }
    v.clear();
    if let Ok(mut p) = VECS.lock() {
        if p.len() < KEEP_VECS {
            p.push(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pdu_buffers_come_back_empty_and_large_ones_are_not_kept() {
        let mut v = take_vec();
        assert!(v.is_empty() && v.capacity() >= VEC_SIZE);
        v.extend_from_slice(b"A-ASSOCIATE-RQ");
        give_vec(v);
        // Whichever buffer comes next (tests share the pool), it is empty.
        let w = take_vec();
        assert!(w.is_empty() && w.capacity() >= VEC_SIZE);
        give_vec(Vec::with_capacity(8 * VEC_SIZE));
        let kept = VECS.lock().unwrap().iter().map(Vec::capacity).max();
        assert!(kept < Some(8 * VEC_SIZE), "a 128 KiB buffer was kept");
        give_vec(w);
    }

    #[test]
    fn reuses_buffers() {
        let a = Buf::get();
        assert_eq!(a.len(), BUF_SIZE);
        drop(a);
        let n = POOL.lock().unwrap().len();
        assert!(n >= 1);
    }
}
