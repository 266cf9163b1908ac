//! Allocation counters (feature `counters`).

use core::fmt;

/// Running figures about a [`Talc`](crate::Talc)'s heaps and allocations.
///
/// Byte counts of allocations are the sizes that were asked for; the
/// memory used to serve them (headers, padding, rounding) is `overhead_bytes`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Live allocations.
    pub allocation_count: usize,
    /// Allocations ever made (including those freed).
    pub total_allocation_count: u64,
    /// Bytes in live allocations, as requested.
    pub allocated_bytes: usize,
    /// Bytes ever allocated, as requested (growth counts the difference).
    pub total_allocated_bytes: u64,
    /// Bytes in free chunks.
    pub available_bytes: usize,
    /// Free chunks: a measure of fragmentation.
    pub fragment_count: usize,
    /// Heaps in use.
    pub heap_count: usize,
    /// Heaps ever established.
    pub total_heap_count: u64,
    /// Bytes in all heaps.
    pub claimed_bytes: usize,
    /// Free chunks the searches looked at (whether they fitted or not): a
    /// request looks at a few chunks per bin at most, so this divided by the
    /// allocations made shows the work per request.
    pub chunks_looked_at: u64,
}

impl Counters {
    pub(crate) const fn new() -> Self {
        Self {
            allocation_count: 0,
            total_allocation_count: 0,
            allocated_bytes: 0,
            total_allocated_bytes: 0,
            available_bytes: 0,
            fragment_count: 0,
            heap_count: 0,
            total_heap_count: 0,
            claimed_bytes: 0,
            chunks_looked_at: 0,
        }
    }

    /// Bytes in heaps that are neither requested by a live allocation nor
    /// free: headers, alignment padding, rounding and sentinels.
    pub fn overhead_bytes(&self) -> usize {
        self.claimed_bytes - self.allocated_bytes - self.available_bytes
    }

    pub(crate) fn allocated(&mut self, size: usize) {
        self.allocation_count += 1;
        self.total_allocation_count += 1;
        self.allocated_bytes += size;
        self.total_allocated_bytes += size as u64;
    }

    pub(crate) fn freed(&mut self, size: usize) {
        self.allocation_count -= 1;
        self.allocated_bytes -= size;
    }

    pub(crate) fn resized(&mut self, old: usize, new: usize) {
        self.allocated_bytes = self.allocated_bytes - old + new;
        self.total_allocated_bytes += new.saturating_sub(old) as u64;
    }

    pub(crate) fn free_chunk_added(&mut self, size: usize) {
        self.fragment_count += 1;
        self.available_bytes += size;
    }

    pub(crate) fn free_chunk_removed(&mut self, size: usize) {
        self.fragment_count -= 1;
        self.available_bytes -= size;
    }

    pub(crate) fn heap_added(&mut self, size: usize) {
        self.heap_count += 1;
        self.total_heap_count += 1;
        self.claimed_bytes += size;
    }

    /// A heap's top moved from address `old` to `new`.
    pub(crate) fn heap_resized(&mut self, old: usize, new: usize) {
        if new >= old {
            self.claimed_bytes += new - old;
        } else {
            self.claimed_bytes -= old - new;
        }
    }

    pub(crate) fn heap_removed(&mut self, size: usize) {
        self.claimed_bytes -= size;
        self.heap_count -= 1;
    }
}

impl fmt::Display for Counters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "heaps:        {} in use, {} ever", self.heap_count, self.total_heap_count)?;
        writeln!(f, "claimed:      {} B", self.claimed_bytes)?;
        writeln!(
            f,
            "allocations:  {} live ({} B), {} ever ({} B)",
            self.allocation_count,
            self.allocated_bytes,
            self.total_allocation_count,
            self.total_allocated_bytes
        )?;
        writeln!(f, "free:         {} B in {} chunks", self.available_bytes, self.fragment_count)?;
        writeln!(f, "searches:     {} chunks looked at", self.chunks_looked_at)?;
        write!(f, "overhead:     {} B", self.overhead_bytes())
    }
}
