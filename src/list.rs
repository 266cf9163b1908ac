//! The intrusive, doubly linked free list, and the layout of a free chunk.
//!
//! ```text
//!  base                                                         acme
//!   | next | prev_next | size | ...unused...              | size |
//!   `---- FreeNode ----'
//! ```
//!
//! `prev_next` points at whatever points at this node: the previous node's
//! `next` field, or the bin's head. Both are a `*mut FreeNode` slot, so
//! unlinking never needs to know which bin or list the node is in. A free
//! chunk is at least three words, so with the minimum size the two `size`
//! words are the same word.

use core::ptr::null_mut;

const WORD: usize = core::mem::size_of::<usize>();

/// The link at the base of every free chunk.
#[repr(C)]
pub(crate) struct FreeNode {
    pub(crate) next: *mut FreeNode,
    pub(crate) prev_next: *mut *mut FreeNode,
}

/// Pushes `node` at the front of the list whose head slot is `head`.
///
/// # Safety
/// `head` must be a valid head slot (or a node's `next` field) and `node`
/// must point to writable memory of at least two words, not in any list.
#[inline]
pub(crate) unsafe fn push(head: *mut *mut FreeNode, node: *mut FreeNode) {
    // SAFETY: the caller guarantees both pointers are valid; the old first
    // node, if any, is a live list member whose `prev_next` we may update.
    unsafe {
        let next = *head;
        (*node).next = next;
        (*node).prev_next = head;
        if !next.is_null() {
            (*next).prev_next = &raw mut (*node).next;
        }
        *head = node;
    }
}

/// Removes `node` from whatever list holds it.
///
/// # Safety
/// `node` must be a member of a well-formed list.
#[inline]
pub(crate) unsafe fn unlink(node: *mut FreeNode) {
    // SAFETY: in a well-formed list `prev_next` is a valid slot and `next`
    // is null or a live member.
    unsafe {
        let next = (*node).next;
        let prev_next = (*node).prev_next;
        *prev_next = next;
        if !next.is_null() {
            (*next).prev_next = prev_next;
        }
    }
}

/// Writes the size words of the free chunk `[base, acme)`, which must be at
/// least three words (its node is written separately by [`push`]).
///
/// # Safety
/// `[base, acme)` must be writable and word aligned, at least three words.
#[inline]
pub(crate) unsafe fn write_sizes(base: *mut u8, acme: *mut u8) {
    let size = acme.addr() - base.addr();
    // SAFETY: both words lie inside `[base, acme)`, which the caller owns.
    unsafe {
        *base.add(2 * WORD).cast::<usize>() = size;
        *acme.sub(WORD).cast::<usize>() = size;
    }
}

/// The size of the free chunk at `base`.
///
/// # Safety
/// `base` must be the base of a free chunk.
#[inline]
pub(crate) unsafe fn size_of(base: *mut u8) -> usize {
    // SAFETY: a free chunk's third word is its size.
    unsafe { *base.add(2 * WORD).cast::<usize>() }
}

/// The size of the free chunk that ends at `acme` (read from its top word).
///
/// # Safety
/// A free chunk must end exactly at `acme`.
#[inline]
pub(crate) unsafe fn size_below(acme: *mut u8) -> usize {
    // SAFETY: a free chunk's last word is its size.
    unsafe { *acme.sub(WORD).cast::<usize>() }
}

/// An empty list head: null, so a zeroed bin array is all empty bins.
pub(crate) const EMPTY: *mut FreeNode = null_mut();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_and_unlink_keep_links_consistent() {
        let mut nodes: [FreeNode; 3] =
            core::array::from_fn(|_| FreeNode { next: null_mut(), prev_next: null_mut() });
        let mut head = EMPTY;
        // One raw pointer to the head for the whole test, as in a heap: a
        // fresh `&mut head` for each call would invalidate the links stored
        // through the previous one (Tree Borrows).
        let head: *mut *mut FreeNode = &raw mut head;
        let p: [*mut FreeNode; 3] = {
            let base = nodes.as_mut_ptr();
            // SAFETY: indices are in bounds of the array.
            unsafe { [base, base.add(1), base.add(2)] }
        };
        // SAFETY: the head is a local slot, the nodes are distinct, writable and
        // unlinked when pushed; each unlink is of a current member.
        unsafe {
            for &n in &p {
                push(head, n);
            }
            // order: 2, 1, 0
            assert_eq!(*head, p[2]);
            assert_eq!((*p[2]).next, p[1]);
            assert_eq!((*p[1]).next, p[0]);
            assert!((*p[0]).next.is_null());
            assert_eq!((*p[2]).prev_next, head);
            unlink(p[1]);
            assert_eq!((*p[2]).next, p[0]);
            assert_eq!((*p[0]).prev_next, &raw mut (*p[2]).next);
            unlink(p[2]);
            assert_eq!(*head, p[0]);
            assert_eq!((*p[0]).prev_next, head);
            unlink(p[0]);
            assert!((*head).is_null());
        }
    }

    #[test]
    fn size_words() {
        let mut mem = [0usize; 5];
        let base = mem.as_mut_ptr().cast::<u8>();
        // SAFETY: the five-word chunk lies in `mem`.
        unsafe {
            let acme = base.add(5 * WORD);
            write_sizes(base, acme);
            assert_eq!(size_of(base), 5 * WORD);
            assert_eq!(size_below(acme), 5 * WORD);
        }
        assert_eq!(mem[2], 5 * WORD);
        assert_eq!(mem[4], 5 * WORD);
    }
}
