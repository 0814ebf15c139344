//! Byte ranges into a message buffer.
//!
//! Every decoded element of a [`crate::Message`] is stored as a [`Span`]: a pair of `u32`
//! offsets into the buffer the message was parsed from. Nothing is copied at parse time;
//! the public view types turn spans back into `&str` on access.

/// A half-open byte range `start..end` into a source string or message buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// First byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
}

impl Span {
    /// A span from `start` to `end` (byte offsets).
    #[inline]
    pub const fn new(start: usize, end: usize) -> Span {
        Span {
            start: start as u32,
            end: end as u32,
        }
    }

    /// The spanned text of `src`.
    #[inline]
    pub fn of(self, src: &str) -> &str {
        &src[self.start as usize..self.end as usize]
    }

    /// The spanned bytes of `src`.
    #[inline]
    pub fn of_bytes(self, src: &[u8]) -> &[u8] {
        &src[self.start as usize..self.end as usize]
    }

    /// Length in bytes.
    #[inline]
    pub const fn len(self) -> usize {
        (self.end - self.start) as usize
    }

    /// True when the span covers no byte.
    #[inline]
    pub const fn is_empty(self) -> bool {
        self.end == self.start
    }

    /// As a `usize` range.
    #[inline]
    pub const fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}
