//! A search for a few hundred lower-case literals in lower-cased text (the provider rules'
//! prefilter) that is faster than an Aho-Corasick automaton over the whole text.
//!
//! An automaton takes one dependent table step per byte, and with hundreds of literals no
//! SIMD prefilter applies. Here each position's first three bytes are hashed into a bit set of
//! the literals' first three bytes. The look-ups do not depend on each other, so the CPU runs
//! several at once. Only where a bit is set (a few positions in a hundred in log text) are the
//! literals starting with those three bytes compared.

/// Bits of the hash: 2^15 bits (4 KiB) stay in the L1 cache; a few hundred literals fill
/// about 1 % of them.
const HASH_BITS: u32 = 15;

/// Literals of at least 3 bytes.
pub(crate) struct GramFinder {
    literals: Vec<Vec<u8>>,
    /// Bit `h` is set if a literal's first three bytes hash to `h`.
    bits: Box<[u64; (1 << HASH_BITS) / 64]>,
    /// The literals whose first three bytes hash to `h`: `items[starts[h]..starts[h + 1]]`.
    starts: Vec<u32>,
    items: Vec<Item>,
}

/// A literal in a hash bucket, with its first eight bytes (or fewer) as a number, so that
/// most candidates are ruled out by one comparison of a word already loaded.
#[derive(Clone, Copy)]
struct Item {
    literal: u32,
    len: u32,
    /// The literal's first `min(len, 8)` bytes, little-endian, and the mask that keeps them.
    head: u64,
    mask: u64,
}

impl Item {
    fn new(index: usize, literal: &[u8]) -> Item {
        let n = literal.len().min(8);
        let mut bytes = [0u8; 8];
        bytes[..n].copy_from_slice(&literal[..n]);
        Item {
            literal: index as u32,
            len: literal.len() as u32,
            head: u64::from_le_bytes(bytes),
            mask: if n == 8 {
                u64::MAX
            } else {
                (1u64 << (8 * n)) - 1
            },
        }
    }
}

/// Up to eight bytes from the start of `w`, little-endian, zero past its end.
#[inline(always)]
fn head_of(w: &[u8]) -> u64 {
    match w.get(..8) {
        Some(eight) => u64::from_le_bytes(eight.try_into().unwrap_or([0; 8])),
        None => {
            let mut bytes = [0u8; 8];
            bytes[..w.len()].copy_from_slice(w);
            u64::from_le_bytes(bytes)
        }
    }
}

/// The first three bytes of `w` as a number.
#[inline(always)]
fn gram(w: &[u8]) -> u32 {
    u32::from(w[0]) | u32::from(w[1]) << 8 | u32::from(w[2]) << 16
}

#[inline(always)]
fn hash(gram: u32) -> usize {
    (gram.wrapping_mul(0x9E37_79B1) >> (32 - HASH_BITS)) as usize
}

impl GramFinder {
    /// `literals` must each be at least 3 bytes long; shorter ones are never found.
    pub(crate) fn new(literals: Vec<Vec<u8>>) -> GramFinder {
        let size = 1usize << HASH_BITS;
        let mut bits = Box::new([0u64; (1 << HASH_BITS) / 64]);
        let mut lists: Vec<Vec<Item>> = vec![Vec::new(); size];
        for (i, l) in literals.iter().enumerate() {
            if l.len() < 3 {
                continue;
            }
            let h = hash(gram(l));
            bits[h / 64] |= 1 << (h % 64);
            lists[h].push(Item::new(i, l));
        }
        let mut starts = Vec::with_capacity(size + 1);
        let mut items = Vec::new();
        for list in lists {
            starts.push(items.len() as u32);
            items.extend(list);
        }
        starts.push(items.len() as u32);
        GramFinder {
            literals,
            bits,
            starts,
            items,
        }
    }

    /// Calls `found(position, literal index)` for every literal that occurs wholly inside
    /// `hay[start..end]`, in order of position.
    pub(crate) fn find_all(
        &self,
        hay: &[u8],
        start: usize,
        end: usize,
        mut found: impl FnMut(usize, usize),
    ) {
        let Some(text) = hay.get(start..end) else {
            return;
        };
        let n = text.len().saturating_sub(2);
        let mut verify = |i: usize| {
            let h = hash(gram(&text[i..]));
            let at = &text[i..];
            let head = head_of(at);
            for item in &self.items[self.starts[h] as usize..self.starts[h + 1] as usize] {
                if head & item.mask == item.head
                    && item.len as usize <= at.len()
                    && (item.len <= 8 || at.starts_with(&self.literals[item.literal as usize]))
                {
                    found(start + i, item.literal as usize);
                }
            }
        };
        // Four positions at a time, from one 8-byte load, with one branch: most blocks hold
        // no candidate.
        let mut i = 0;
        while i + 8 <= text.len() {
            let word = u64::from_le_bytes(text[i..i + 8].try_into().unwrap_or([0; 8]));
            let g = |k: u32| (word >> (8 * k)) as u32 & 0x00FF_FFFF;
            let hs = [hash(g(0)), hash(g(1)), hash(g(2)), hash(g(3))];
            let any = hs
                .iter()
                .fold(0, |acc, &h| acc | (self.bits[h / 64] >> (h % 64)));
            if any & 1 != 0 {
                for (k, &h) in hs.iter().enumerate() {
                    if self.bits[h / 64] & (1 << (h % 64)) != 0 {
                        verify(i + k);
                    }
                }
            }
            i += 4;
        }
        while i < n {
            let h = hash(gram(&text[i..]));
            if self.bits[h / 64] & (1 << (h % 64)) != 0 {
                verify(i);
            }
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(finder: &GramFinder, hay: &[u8]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        finder.find_all(hay, 0, hay.len(), |p, l| out.push((p, l)));
        out
    }

    #[test]
    fn finds_every_occurrence_and_only_whole_literals() {
        let f = GramFinder::new(vec![b"ghp_".to_vec(), b"token".to_vec(), b"tok".to_vec()]);
        assert_eq!(
            all(&f, b"x ghp_a token tok\tto ghp"),
            vec![(2, 0), (8, 1), (8, 2), (14, 2)]
        );
        // A literal that runs past `end` is not found.
        let f = GramFinder::new(vec![b"a[b".to_vec()]);
        assert_eq!(all(&f, b"a{b a[b"), vec![(4, 0)]);
        let mut out = Vec::new();
        f.find_all(b"a[b", 0, 2, |p, l| out.push((p, l)));
        assert!(out.is_empty());
        assert!(all(&f, b"").is_empty());
    }
}
