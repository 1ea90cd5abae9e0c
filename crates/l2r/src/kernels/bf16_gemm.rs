//! A bf16 GEMM for the frozen linear layers, on CPUs with AVX-512 BF16: out (m×n, f32) += A · B, with A (m×k,
//! f32) rounded to bf16 as it is packed on each call and B (k×n) packed to bf16 once. `vdpbf16ps` multiplies
//! adjacent bf16 pairs and adds both products into one f32 lane: twice the multiply-adds of an f32 FMA per
//! instruction, and the products of bf16 values are exact in f32, so only the accumulation rounds.
//!
//! Layout (BLIS style). B: column panels of `NR` columns, each k-pair-major: the pair (b[2p][j], b[2p+1][j])
//! is one u32 at p·NR + j of its panel, so one pair row of a panel is `NR / 16` aligned zmm loads. A: per task
//! and K block, strips of `MR` rows in segments of 16 pairs: row i's pairs (a[i][2p], a[i][2p+1]) of a segment
//! are 16 consecutive words (one conversion and one store when packing), and the microkernel broadcasts
//! each pair from memory, the rows a fixed 64 bytes apart. Odd k and the ragged ends of m and n are
//! zero-padded.
//!
//! Blocking: a K block of `KC_PAIRS` pairs keeps the B micro-panel (KC_PAIRS·NR·4 bytes) in L1 while the
//! strips of a task's A block (at most `MC_STRIPS`·MR rows, in L2) stream past it. Measured on Zen 5 (2
//! `vdpbf16ps` per cycle): 6 × 64 tiles reach ~90% of that peak on one core, 12 × 32 tiles a few percent
//! less on two; K blocks of 96 to 192 pairs are within noise (examples/bf16_gemm_speed.rs).

// Off x86_64 only `bf16_available` (false) and the refusing `gemm` are reachable.
#![cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]

use candle_core::{bail, Result};

const NAME: &str = "bf16-gemm";
/// Rows of the microkernel's tile: MR × NR/16 = 24 zmm accumulators (of 32), enough independent chains to
/// cover `vdpbf16ps` latency (6 cycles) on both pipes, with one broadcast of A feeding four of them.
const MR: usize = 6;
/// Columns of a B panel and of the microkernel's tile: four zmm of f32.
const NR: usize = 64;
/// k pairs per K block: a 32 KiB B micro-panel and a 3 KiB A strip, together inside a 48 KiB L1.
const KC_PAIRS: usize = 128;
/// Pairs per segment of a packed A row: one zmm of bf16 pairs.
const SEGMENT: usize = 16;
/// Strips per task at most: an A block of 192 rows × KC_PAIRS pairs is 96 KiB, well inside L2.
const MC_STRIPS: usize = 32;

/// Whether this CPU runs the bf16 GEMM (x86_64 with AVX-512F and AVX-512 BF16, detected at run time).
pub fn bf16_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bf16")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The bf16 bits of `x`, rounded to nearest even (NaN stays a quiet NaN of the same sign); what
/// `vcvtne2ps2bf16` computes for every input but denormals, which it flushes to zero.
fn bf16_bits(x: f32) -> u16 {
    let bits = x.to_bits();
    if x.is_nan() {
        return ((bits >> 16) | 0x0040) as u16;
    }
    // Adding just under half an ulp of bf16, plus one when the kept part is odd, carries into the kept part
    // exactly when RNE rounds up (an overflow past the largest finite value correctly gives infinity).
    let rounding = 0x7FFF + ((bits >> 16) & 1);
    (bits.wrapping_add(rounding) >> 16) as u16
}

/// One 64-byte line of packed words, so that every B panel starts on a cache line.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([u32; 16]);

/// B (k×n) in bf16 pairs, in column panels of `NR` (see the module comment).
pub(super) struct PackedB {
    lines: Vec<Line>,
    k: usize,
    n: usize,
}

impl PackedB {
    /// Packs B given row-major as (k, n).
    pub(super) fn from_rows(b: &[f32], k: usize, n: usize) -> Result<Self> {
        if b.len() != k * n {
            bail!("{NAME}: B has {} values, not {k} × {n}", b.len());
        }
        Ok(Self::pack(k, n, |p, j| b[p * n + j]))
    }

    /// Packs B given as its transpose, row-major (n, k): a linear layer's weight (out, in) for B = Wᵀ.
    pub(super) fn from_transposed(bt: &[f32], k: usize, n: usize) -> Result<Self> {
        if bt.len() != k * n {
            bail!("{NAME}: Bᵀ has {} values, not {n} × {k}", bt.len());
        }
        Ok(Self::pack(k, n, |p, j| bt[j * k + p]))
    }

    /// Packs the B whose element (p, j) is `at(p, j)` for p < k, j < n.
    fn pack(k: usize, n: usize, at: impl Fn(usize, usize) -> f32) -> Self {
        let pairs = k.div_ceil(2);
        let panel_words = pairs * NR;
        let mut packed = PackedB {
            lines: vec![Line([0; 16]); n.div_ceil(NR) * panel_words / 16],
            k,
            n,
        };
        let bits = |p: usize, j: usize| if p < k { bf16_bits(at(p, j)) } else { 0 };
        let words = packed.words_mut();
        for j in 0..n {
            let panel = &mut words[(j / NR) * panel_words..][..panel_words];
            for p in 0..pairs {
                panel[p * NR + j % NR] = pack_pair(bits(2 * p, j), bits(2 * p + 1, j));
            }
        }
        packed
    }

    pub(super) fn k(&self) -> usize {
        self.k
    }

    pub(super) fn n(&self) -> usize {
        self.n
    }

    fn pairs(&self) -> usize {
        self.k.div_ceil(2)
    }

    fn panels(&self) -> usize {
        self.n.div_ceil(NR)
    }

    fn words(&self) -> &[u32] {
        // SAFETY: a `Line` is exactly 16 u32 with no padding (repr(C), 64 bytes, align 64 ≥ align of u32), so
        // the lines are `16 · len` initialised, properly aligned u32 borrowed for `self`'s lifetime.
        unsafe { std::slice::from_raw_parts(self.lines.as_ptr().cast(), self.lines.len() * 16) }
    }

    fn words_mut(&mut self) -> &mut [u32] {
        // SAFETY: as in `words`, and the borrow is unique through `&mut self`.
        unsafe {
            std::slice::from_raw_parts_mut(self.lines.as_mut_ptr().cast(), self.lines.len() * 16)
        }
    }

    /// Pairs `pairs` of column panel `panel`: `pairs.len() · NR` words, starting on a cache line.
    fn panel(&self, panel: usize, pairs: std::ops::Range<usize>) -> &[u32] {
        let start = panel * self.pairs() * NR + pairs.start * NR;
        &self.words()[start..start + pairs.len() * NR]
    }
}

/// The u32 `vdpbf16ps` reads as the pair (even, odd): the even-k element in the low half.
fn pack_pair(even: u16, odd: u16) -> u32 {
    u32::from(even) | u32::from(odd) << 16
}

/// out (m×n, row-major) += A (m×k, row-major f32, rounded to bf16) · B, on rayon's current pool. Fails when
/// the CPU has no AVX-512 BF16 (see [`bf16_available`]) or the lengths do not match.
pub(super) fn gemm(out: &mut [f32], a: &[f32], b: &PackedB, m: usize) -> Result<()> {
    let (k, n) = (b.k, b.n);
    if out.len() != m * n || a.len() != m * k {
        bail!(
            "{NAME}: out has {} values and A {}, not {m} × {n} and {m} × {k}",
            out.len(),
            a.len()
        );
    }
    if out.is_empty() || k == 0 {
        return Ok(());
    }
    #[cfg(target_arch = "x86_64")]
    if bf16_available() {
        // SAFETY: the CPU has the features, the lengths are checked above and k ≥ 1.
        unsafe { avx512::gemm(out, a, b, m) };
        return Ok(());
    }
    bail!("{NAME}: this CPU lacks AVX-512 BF16 (avx512f + avx512bf16); use the fp32 path")
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{PackedB, KC_PAIRS, MC_STRIPS, MR, NR, SEGMENT};
    use rayon::prelude::*;
    use std::arch::x86_64::*;
    use std::mem::transmute;
    use std::ops::Range;

    /// zmm vectors across a tile's row.
    const VECTORS: usize = NR / 16;

    /// Runs the GEMM in tasks of whole row blocks (each packs its own A), in parallel when the pool has more
    /// than one thread.
    ///
    /// # Safety
    /// The CPU has AVX-512F and AVX-512 BF16; `out` holds m·n floats and `a` m·k, with k ≥ 1.
    pub(super) unsafe fn gemm(out: &mut [f32], a: &[f32], b: &PackedB, m: usize) {
        let (k, n) = (b.k(), b.n());
        let threads = rayon::current_num_threads();
        let mut tasks = Vec::new();
        let mut rest = out;
        for rows in row_blocks(m, threads) {
            let (block, tail) = rest.split_at_mut(rows.len() * n);
            tasks.push((block, &a[rows.start * k..rows.end * k]));
            rest = tail;
        }
        // SAFETY (both calls): the CPU has AVX-512F and AVX-512 BF16 (this function's contract).
        if threads == 1 {
            for (block, a) in tasks {
                unsafe { row_block(block, a, b) };
            }
        } else {
            tasks
                .into_par_iter()
                .for_each(|(block, a)| unsafe { row_block(block, a, b) });
        }
    }

    /// Row ranges of whole `MR` strips: a multiple of `threads` of them, so every thread gets the same
    /// share, each of at most `MC_STRIPS` strips where m allows, so a block's packed A stays in L2.
    fn row_blocks(m: usize, threads: usize) -> Vec<Range<usize>> {
        let strips = m.div_ceil(MR);
        let rounds = strips.div_ceil(threads.max(1) * MC_STRIPS);
        let tasks = (threads.max(1) * rounds).clamp(1, strips);
        let (base, extra) = (strips / tasks, strips % tasks);
        let mut start = 0;
        (0..tasks)
            .map(|task| {
                let len = base + usize::from(task < extra);
                let rows = start * MR..((start + len) * MR).min(m);
                start += len;
                rows
            })
            .collect()
    }

    /// Words of one packed A strip holding `pairs` pairs: whole segments of SEGMENT pairs for each of MR rows.
    pub(super) fn strip_words(pairs: usize) -> usize {
        pairs.div_ceil(SEGMENT) * SEGMENT * MR
    }

    /// out (rows×n) += a (rows×k) · B, one K block at a time, sweeping every column panel over all strips so
    /// each B micro-panel is loaded into L1 once per block. The strips of A are packed during the first
    /// panel, each just before its tile, whose K loop prefetches the next strip's rows meanwhile.
    #[target_feature(enable = "avx512f,avx512bf16")]
    unsafe fn row_block(out: &mut [f32], a: &[f32], b: &PackedB) {
        let (k, n) = (b.k(), b.n());
        let rows = a.len() / k;
        let strips = rows.div_ceil(MR);
        let mut packed = vec![0u32; strips * strip_words(KC_PAIRS.min(b.pairs()))];
        for first in (0..b.pairs()).step_by(KC_PAIRS) {
            let pairs = first..(first + KC_PAIRS).min(b.pairs());
            let span = 2 * pairs.start..(2 * pairs.end).min(k);
            let strip_len = strip_words(pairs.len());
            for panel in 0..b.panels() {
                let b_panel = b.panel(panel, pairs.clone());
                let cols = NR.min(n - panel * NR);
                for strip in 0..strips {
                    let tile_rows = MR.min(rows - strip * MR);
                    let a_strip = &mut packed[strip * strip_len..][..strip_len];
                    let mut ahead = RowsAhead::NONE;
                    if panel == 0 {
                        let strip_rows = &a[strip * MR * k..][..tile_rows * k];
                        // SAFETY: the CPU has the features this function was compiled for.
                        unsafe { pack_strip(a_strip, strip_rows, k, span.clone()) };
                        let next_rows = MR.min(rows.saturating_sub((strip + 1) * MR));
                        ahead =
                            RowsAhead::new(&a[(strip * MR + tile_rows) * k..], k, &span, next_rows);
                    }
                    let out = &mut out[strip * MR * n + panel * NR..];
                    debug_assert!(out.len() >= (tile_rows - 1) * n + cols);
                    // SAFETY: the strip holds `strip_words(pairs.len())` words and the panel NR per pair,
                    // 64-byte aligned; `out` holds rows·n floats, so from the tile's corner it reaches
                    // (tile_rows − 1)·n + n − panel·NR ≥ (tile_rows − 1)·n + cols of them.
                    tile(
                        a_strip,
                        b_panel,
                        pairs.len(),
                        out,
                        n,
                        (tile_rows, cols),
                        ahead,
                    );
                }
            }
        }
    }

    /// Rows of A to prefetch while a tile computes: the span of `rows` rows `stride` floats apart from `first`.
    #[derive(Clone, Copy)]
    struct RowsAhead {
        first: *const f32,
        stride: usize,
        rows: usize,
        /// Cache lines per row (one more than the span needs, for an unaligned start).
        lines: usize,
    }

    impl RowsAhead {
        const NONE: RowsAhead = RowsAhead {
            first: std::ptr::null(),
            stride: 0,
            rows: 0,
            lines: 0,
        };

        /// `rows` rows of width `stride` at the start of `a`, each over `span`.
        fn new(a: &[f32], stride: usize, span: &Range<usize>, rows: usize) -> Self {
            match rows {
                0 => Self::NONE,
                _ => RowsAhead {
                    first: a[span.start..].as_ptr(),
                    stride,
                    rows,
                    lines: span.len().div_ceil(16) + 1,
                },
            }
        }

        /// Prefetches the rows with indices in `rows` (of `self.rows`).
        #[target_feature(enable = "avx512f")]
        fn prefetch(&self, rows: Range<usize>) {
            for row in rows {
                for line in 0..self.lines {
                    let at = self.first.wrapping_add(row * self.stride + 16 * line);
                    // A prefetch never faults, and wrapping arithmetic forms the address without a bound.
                    _mm_prefetch::<_MM_HINT_T0>(at.cast());
                }
            }
        }
    }

    /// Packs the values `span` (a K block's pairs) of the at most MR rows of `a` (row-major, width k) into one
    /// strip, rounding to bf16 (RNE). Segment s of row i (pairs 16s.. of the block) is 16 consecutive words at (s·MR + i)·16:
    /// one zmm store per 32 values, no transpose; rows past the last are zero.
    #[target_feature(enable = "avx512f,avx512bf16")]
    unsafe fn pack_strip(words: &mut [u32], a: &[f32], k: usize, span: Range<usize>) {
        let rows = a.len() / k;
        for i in 0..MR {
            let values = if i < rows {
                &a[i * k..][span.clone()]
            } else {
                &[]
            };
            for (segment, words) in words.chunks_exact_mut(SEGMENT * MR).enumerate() {
                let values = values.get(2 * SEGMENT * segment..).unwrap_or(&[]);
                let segment_values = &values[..values.len().min(2 * SEGMENT)];
                // SAFETY: the CPU has the features this function was compiled for.
                unsafe { pack_segment(&mut words[i * SEGMENT..][..SEGMENT], segment_values) };
            }
        }
    }

    /// Writes up to 32 `values` as 16 bf16 pairs (RNE) into `words`; missing values are zero.
    #[target_feature(enable = "avx512f,avx512bf16")]
    unsafe fn pack_segment(words: &mut [u32], values: &[f32]) {
        debug_assert!(words.len() == SEGMENT && values.len() <= 2 * SEGMENT);
        let low = lane_mask(values.len());
        let high = lane_mask(values.len().saturating_sub(16));
        // SAFETY: the masks enable only lanes inside `values`, and masked-off lanes are never read (no fault,
        // zero result; the high pointer is formed with wrapping arithmetic as it may be past the end); the
        // store writes the 16 words of `words`.
        unsafe {
            let lo = _mm512_maskz_loadu_ps(low, values.as_ptr());
            let hi = _mm512_maskz_loadu_ps(high, values.as_ptr().wrapping_add(16));
            let pairs = transmute::<__m512bh, __m512>(_mm512_cvtne2ps_pbh(hi, lo));
            _mm512_storeu_ps(words.as_mut_ptr().cast(), pairs);
        }
    }

    /// The 512 bits of `v` as the 32 bf16 `vdpbf16ps` takes (a bit cast).
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn as_bf16(v: __m512) -> __m512bh {
        // SAFETY: both are plain 64-byte vectors for which every bit pattern is valid.
        unsafe { transmute::<__m512, __m512bh>(v) }
    }

    /// The mask of the first `lanes` (≤ 16, more saturate) of a zmm.
    fn lane_mask(lanes: usize) -> __mmask16 {
        if lanes >= 16 {
            u16::MAX
        } else {
            (1u16 << lanes) - 1
        }
    }

    /// The microkernel: out[i][j] += Σ_p A_strip(p, i) · B_panel(p, j) for i < rows, j < cols, with MR × NR
    /// f32 accumulators in registers; per pair, NR/16 aligned loads of B and MR broadcasts of A. The rows
    /// `ahead` are prefetched a share per segment.
    ///
    /// # Safety
    /// `a` holds `strip_words(pairs)` words, `b` holds `pairs · NR` and starts 64-byte aligned, `out` reaches
    /// `(rows − 1) · stride + cols` floats, rows ≤ MR, cols ≤ NR, and the CPU has AVX-512F + BF16.
    #[target_feature(enable = "avx512f,avx512bf16")]
    #[inline]
    unsafe fn tile(
        a: &[u32],
        b: &[u32],
        pairs: usize,
        out: &mut [f32],
        stride: usize,
        (rows, cols): (usize, usize),
        ahead: RowsAhead,
    ) {
        debug_assert!(a.len() >= strip_words(pairs) && b.len() >= pairs * NR);
        debug_assert!(b.as_ptr().align_offset(64) == 0 && rows <= MR && cols <= NR);
        prefetch_tile(out, stride, rows);
        let (a, b) = (a.as_ptr(), b.as_ptr());
        let mut acc = [[_mm512_setzero_ps(); VECTORS]; MR];
        let segments = pairs.div_ceil(SEGMENT);
        for segment in 0..segments {
            ahead.prefetch(segment * ahead.rows / segments..(segment + 1) * ahead.rows / segments);
            // SAFETY: segment `segment` of the strip (SEGMENT·MR words) and of the panel (SEGMENT·NR words
            // for the pairs that exist) are in bounds.
            let (a, b) = unsafe { (a.add(segment * SEGMENT * MR), b.add(segment * SEGMENT * NR)) };
            for t in 0..SEGMENT.min(pairs - segment * SEGMENT) {
                let mut b_pair = [as_bf16(_mm512_setzero_ps()); VECTORS];
                for (v, lanes) in b_pair.iter_mut().enumerate() {
                    // SAFETY: pair t's NR words are in bounds, and 64-byte aligned as each pair's row of the
                    // panel is NR·4 = 256 bytes.
                    *lanes = as_bf16(unsafe { _mm512_load_ps(b.add(t * NR + 16 * v).cast()) });
                }
                for (i, row) in acc.iter_mut().enumerate() {
                    // SAFETY: word i·SEGMENT + t of the segment is in bounds.
                    let pair = unsafe { a.add(i * SEGMENT + t).read() };
                    let broadcast = as_bf16(_mm512_set1_ps(f32::from_bits(pair)));
                    for (lanes, b_lanes) in row.iter_mut().zip(&b_pair) {
                        *lanes = _mm512_dpbf16_ps(*lanes, broadcast, *b_lanes);
                    }
                }
            }
        }
        for (i, row) in acc.iter().enumerate().take(rows) {
            for (v, lanes) in row.iter().enumerate().take(cols.div_ceil(16)) {
                let mask = lane_mask(cols - 16 * v);
                let at = &mut out[i * stride + 16 * v..];
                // SAFETY: the mask enables only the first min(16, cols − 16v) lanes, inside `at` by the
                // function's contract; masked-off lanes are neither read nor written.
                unsafe {
                    let sum = _mm512_add_ps(_mm512_maskz_loadu_ps(mask, at.as_ptr()), *lanes);
                    _mm512_mask_storeu_ps(at.as_mut_ptr(), mask, sum);
                }
            }
        }
    }

    /// Asks for the tile's rows of `out` while the K loop runs: they are read once per K block, spread over
    /// MR rows the hardware prefetcher does not follow, and would otherwise stall the write-back.
    #[target_feature(enable = "avx512f")]
    fn prefetch_tile(out: &[f32], stride: usize, rows: usize) {
        for i in 0..rows {
            let row = out[i * stride..].as_ptr();
            for line in 0..=NR / 16 {
                // A prefetch never faults; wrapping arithmetic, as the last line may lie past the end of `out`.
                _mm_prefetch::<_MM_HINT_T0>(row.wrapping_add(16 * line).cast());
            }
        }
    }

    /// Packs pairs `pairs` of every row of `a` (width k) into consecutive strips.
    #[cfg(test)]
    pub(super) fn pack_a_for_test(a: &[f32], k: usize, pairs: Range<usize>) -> Vec<u32> {
        let span = 2 * pairs.start..(2 * pairs.end).min(k);
        let strip_len = strip_words(pairs.len());
        let mut packed = vec![u32::MAX; a.len().div_ceil(MR * k) * strip_len];
        for (words, rows) in packed.chunks_exact_mut(strip_len).zip(a.chunks(MR * k)) {
            // SAFETY: only called after `bf16_available()`.
            unsafe { pack_strip(words, rows, k, span.clone()) };
        }
        packed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn bf16_value(x: f32) -> f32 {
        f32::from_bits(u32::from(bf16_bits(x)) << 16)
    }

    fn random(len: usize, rng: &mut StdRng) -> Vec<f32> {
        (0..len).map(|_| rng.random_range(-2.0..2.0)).collect()
    }

    /// out + A·B with inputs rounded to bf16 and f32 accumulation in k order; B row-major (k, n). Also
    /// returns Σ|a||b| per output, the scale of the summation-order error.
    fn reference(
        out: &[f32],
        a: &[f32],
        b: &[f32],
        (m, n, k): (usize, usize, usize),
    ) -> Vec<(f32, f32)> {
        let mut result = Vec::with_capacity(m * n);
        for i in 0..m {
            for j in 0..n {
                let (mut sum, mut scale) = (out[i * n + j], out[i * n + j].abs());
                for p in 0..k {
                    let product = bf16_value(a[i * k + p]) * bf16_value(b[p * n + j]);
                    sum += product;
                    scale += product.abs();
                }
                result.push((sum, scale));
            }
        }
        result
    }

    fn transpose(b: &[f32], k: usize, n: usize) -> Vec<f32> {
        (0..n * k).map(|t| b[(t % k) * n + t / k]).collect()
    }

    /// (m, n, k): whole and ragged tiles and K blocks, odd k, one row, one column.
    const SHAPES: [(usize, usize, usize); 11] = [
        (1, 1, 1),
        (3, 5, 7),
        (6, 64, 256),
        (7, 65, 257),
        (12, 32, 2),
        (13, 33, 385),
        (37, 384, 96),
        (2, 17, 1),
        (100, 64, 384),
        (65, 383, 1537),
        (1, 1537, 3),
    ];

    #[test]
    fn rounds_to_nearest_even() {
        assert_eq!(bf16_bits(1.0), 0x3F80);
        // 1 + 2⁻⁸ is halfway between bf16 1 and 1 + 2⁻⁷: ties to the even 1.
        assert_eq!(bf16_bits(1.0 + 2f32.powi(-8)), 0x3F80);
        // 1 + 3·2⁻⁸ is halfway between 1 + 2⁻⁷ (odd) and 1 + 2⁻⁶: ties to the even upper one.
        assert_eq!(bf16_bits(1.0 + 3.0 * 2f32.powi(-8)), 0x3F82);
        assert_eq!(bf16_bits(1.0 + 2f32.powi(-8) + 2f32.powi(-20)), 0x3F81);
        assert_eq!(bf16_bits(-2.5), 0xC020);
        assert_eq!(bf16_bits(f32::MAX), 0x7F80);
        assert!(f32::from_bits(u32::from(bf16_bits(f32::NAN)) << 16).is_nan());
    }

    #[test]
    fn packs_a_like_the_scalar_rounding() {
        if !bf16_available() {
            println!("skipped: no AVX-512 BF16 on this CPU");
            return;
        }
        let mut rng = StdRng::seed_from_u64(1);
        for (rows, k, pairs) in [(1, 1, 0..1), (13, 77, 0..39), (25, 600, 192..300)] {
            let mut a = random(rows * k, &mut rng);
            a[0] = 1.0 + 2f32.powi(-8);
            a[k - 1] = 1.0 + 3.0 * 2f32.powi(-8);
            let packed = avx512::pack_a_for_test(&a, k, pairs.clone());
            let strip_len = avx512::strip_words(pairs.len());
            for (index, &word) in packed.iter().enumerate() {
                // Strip, then segment of SEGMENT pairs, then row within the strip, then pair.
                let (strip, within) = (index / strip_len, index % strip_len);
                let (segment, i, t) = (
                    within / (SEGMENT * MR),
                    within / SEGMENT % MR,
                    within % SEGMENT,
                );
                let (row, p) = (strip * MR + i, pairs.start + segment * SEGMENT + t);
                let bits = |col: usize| {
                    if row < rows && p < pairs.end && col < k {
                        bf16_bits(a[row * k + col])
                    } else {
                        0
                    }
                };
                assert_eq!(
                    word,
                    pack_pair(bits(2 * p), bits(2 * p + 1)),
                    "row {row} pair {p}"
                );
            }
        }
    }

    #[test]
    fn matches_the_scalar_reference_on_one_and_two_threads() -> Result<()> {
        if !bf16_available() {
            println!("skipped: no AVX-512 BF16 on this CPU");
            return Ok(());
        }
        let mut rng = StdRng::seed_from_u64(7);
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .map_err(candle_core::Error::wrap)?;
            for (m, n, k) in SHAPES {
                let (a, b, initial) = (
                    random(m * k, &mut rng),
                    random(k * n, &mut rng),
                    random(m * n, &mut rng),
                );
                let expected = reference(&initial, &a, &b, (m, n, k));
                let packings = [
                    PackedB::from_rows(&b, k, n)?,
                    PackedB::from_transposed(&transpose(&b, k, n), k, n)?,
                ];
                for packed in &packings {
                    let mut out = initial.clone();
                    pool.install(|| gemm(&mut out, &a, packed, m))?;
                    for (index, (&got, &(want, scale))) in out.iter().zip(&expected).enumerate() {
                        assert!(
                            (got - want).abs() <= 1e-4 * scale + 1e-6,
                            "({m}, {n}, {k}) on {threads} threads at {index}: {got} vs {want}"
                        );
                    }
                }
            }
        }
        Ok(())
    }

    #[test]
    fn refuses_mismatched_lengths() -> Result<()> {
        let packed = PackedB::from_rows(&[1.0; 6], 2, 3)?;
        assert!(PackedB::from_rows(&[1.0; 5], 2, 3).is_err());
        assert!(PackedB::from_transposed(&[1.0; 7], 2, 3).is_err());
        assert!(gemm(&mut [0.0; 6], &[1.0; 3], &packed, 2).is_err());
        assert!(gemm(&mut [0.0; 5], &[1.0; 4], &packed, 2).is_err());
        Ok(())
    }
}
