//! A stack of at most [`SMALL`] items kept inline (no allocation), for the fast header scan's
//! open elements and namespace bindings (see `fast`).

/// Open elements or namespace bindings beyond this many: give up (the `NsReader` scan takes
/// any depth up to its own limit). Headers clients send nest four deep and bind a few prefixes.
pub(crate) const SMALL: usize = 16;

/// A stack of at most [`SMALL`] items, without allocation (`push` refuses the one too many).
pub(crate) struct Small<T> {
    items: [T; SMALL],
    pub(crate) len: usize,
}

impl<T: Copy + Default> Small<T> {
    pub(crate) fn new() -> Self {
        Small {
            items: [T::default(); SMALL],
            len: 0,
        }
    }

    pub(crate) fn push(&mut self, t: T) -> Option<()> {
        *self.items.get_mut(self.len)? = t;
        self.len += 1;
        Some(())
    }

    pub(crate) fn pop(&mut self) -> Option<T> {
        self.len = self.len.checked_sub(1)?;
        Some(self.items[self.len])
    }

    pub(crate) fn last(&self) -> Option<&T> {
        self.as_slice().last()
    }

    pub(crate) fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    pub(crate) fn as_slice(&self) -> &[T] {
        &self.items[..self.len]
    }
}
