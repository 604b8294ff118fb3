//! A process-wide pool of relay buffers. A connection borrows a buffer only between "the socket
//! is readable" and "the bytes were written out", so idle connections hold no buffer at all.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_buffers() {
        let a = Buf::get();
        assert_eq!(a.len(), BUF_SIZE);
        drop(a);
        let n = POOL.lock().unwrap().len();
        assert!(n >= 1);
    }
}
