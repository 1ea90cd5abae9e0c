//! Tokenize once, then batch examples of similar length together so padding wastes little compute.

use crate::backbone::{TextTokenizer, TokenBatch};
use crate::data::Example;
use crate::error::{Error, Result};
use candle_core::Tensor;
use rand::seq::SliceRandom;
use rand::Rng;

pub struct TokenizedExample {
    pub ids: Vec<u32>,
    pub label: usize,
}

impl AsRef<[u32]> for TokenizedExample {
    fn as_ref(&self) -> &[u32] {
        &self.ids
    }
}

/// Token ids of every example; an empty text is an error naming its position.
pub fn tokenize_examples(
    tokenizer: &TextTokenizer,
    examples: &[Example],
) -> Result<Vec<TokenizedExample>> {
    if examples.is_empty() {
        return Err(Error::invalid("no examples to tokenize"));
    }
    let texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
    let ids = tokenizer.encode_ids(&texts)?;
    Ok(ids
        .into_iter()
        .zip(examples)
        .map(|(ids, e)| TokenizedExample {
            ids,
            label: e.label,
        })
        .collect())
}

/// Shuffled batches of indices into `lengths`. Within windows of 32 batches the examples are sorted by length,
/// then the batch order is shuffled again, so each batch holds similar lengths yet the order stays random.
pub fn length_grouped_batches(
    lengths: &[usize],
    batch_size: usize,
    rng: &mut impl Rng,
) -> Vec<Vec<usize>> {
    let batch_size = batch_size.max(1);
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.shuffle(rng);
    let mut batches = Vec::new();
    for window in order.chunks_mut(batch_size * 32) {
        window.sort_by_key(|&i| std::cmp::Reverse(lengths[i]));
        batches.extend(window.chunks(batch_size).map(<[usize]>::to_vec));
    }
    batches.shuffle(rng);
    batches
}

/// Positions of `lengths`, shortest first, cut into groups to run as separately padded batches: the cut
/// minimises Σ over groups of (rows × the group's longest length + `overhead`) tokens, `overhead` standing for
/// the fixed cost of one more pass. Lengths that are alike stay one group.
pub fn length_groups(lengths: &[usize], overhead: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&i| lengths[i]);
    // cheapest[j]: the cost of the first j rows (in `order`); start[j]: where the last group of that cut starts.
    let mut cheapest = vec![0; order.len() + 1];
    let mut start = vec![0; order.len() + 1];
    for end in 1..=order.len() {
        let longest = lengths[order[end - 1]];
        (cheapest[end], start[end]) = (0..end)
            .map(|first| (cheapest[first] + (end - first) * longest + overhead, first))
            .min()
            .unwrap_or((0, 0));
    }
    let mut groups = Vec::new();
    let mut end = order.len();
    while end > 0 {
        groups.push(order[start[end]..end].to_vec());
        end = start[end];
    }
    groups.reverse();
    groups
}

/// Items taken shortest first, in chunks that pad little, for passes whose results do not depend on which
/// examples share a batch (embedding, evaluation, prediction); `restore` puts per-item results back in item order.
pub struct LengthOrder {
    /// `order[k]` is the item computed k-th.
    order: Vec<usize>,
}

impl LengthOrder {
    /// Shortest to longest, ties in item order.
    pub fn new(lengths: &[usize]) -> Self {
        let mut order: Vec<usize> = (0..lengths.len()).collect();
        order.sort_by_key(|&i| lengths[i]);
        LengthOrder { order }
    }

    /// Of token-id sequences.
    pub fn of_ids(ids: &[impl AsRef<[u32]>]) -> Self {
        Self::new(&ids.iter().map(|i| i.as_ref().len()).collect::<Vec<_>>())
    }

    /// Runs `pass` on each chunk of at most `size` item indices, in order; returns each chunk's result.
    pub fn chunks<R>(
        &self,
        size: usize,
        pass: impl FnMut(&[usize]) -> Result<R>,
    ) -> Result<Vec<R>> {
        self.order.chunks(size.max(1)).map(pass).collect()
    }

    /// Puts values computed in this order (value k belongs to item `order[k]`) back in item order.
    pub fn restore<T: Clone + Default>(&self, values: &[T]) -> Vec<T> {
        let mut by_item = vec![T::default(); values.len()];
        for (value, &item) in values.iter().zip(&self.order) {
            by_item[item] = value.clone();
        }
        by_item
    }

    /// Rows (n, …) computed in this order, put back in item order.
    pub fn restore_rows(&self, rows: &Tensor) -> Result<Tensor> {
        let positions: Vec<u32> = self.restore(&(0..self.order.len() as u32).collect::<Vec<_>>());
        Ok(rows.index_select(&Tensor::new(positions, rows.device())?, 0)?)
    }
}

/// Predictions of `tokenizer`-padded chunks of `ids`, shortest first, returned in item order: `predict` gets a
/// chunk's item indices and its padded batch, and returns one value per item.
pub fn predict_by_length<T: Clone + Default>(
    tokenizer: &TextTokenizer,
    ids: &[impl AsRef<[u32]>],
    chunk: usize,
    mut predict: impl FnMut(&[usize], &TokenBatch) -> Result<Vec<T>>,
) -> Result<Vec<T>> {
    let order = LengthOrder::of_ids(ids);
    let in_order = order.chunks(chunk, |items| {
        let rows: Vec<&[u32]> = items.iter().map(|&i| ids[i].as_ref()).collect();
        predict(items, &tokenizer.pad(&rows)?)
    })?;
    Ok(order.restore(&in_order.concat()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn batches_cover_every_example_once_and_group_lengths() {
        let lengths: Vec<usize> = (0..1000).map(|i| (i * 37) % 120 + 3).collect();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let batches = length_grouped_batches(&lengths, 16, &mut rng);
        let mut seen: Vec<usize> = batches.iter().flatten().copied().collect();
        seen.sort();
        assert_eq!(seen, (0..1000).collect::<Vec<_>>());
        let spread: usize = batches
            .iter()
            .map(|b| {
                b.iter().map(|&i| lengths[i]).max().unwrap()
                    - b.iter().map(|&i| lengths[i]).min().unwrap()
            })
            .sum();
        // Random batches of 16 would spread over most of the 117-token range; sorted windows keep it small.
        assert!(
            spread / batches.len() < 20,
            "mean spread {}",
            spread / batches.len()
        );
    }

    #[test]
    fn length_groups_cut_where_padding_costs_more_than_a_pass() {
        // Alike lengths: one group, every position once.
        assert_eq!(length_groups(&[10, 12, 11], 32), vec![vec![0, 2, 1]]);
        // Eight short rows padded to 64 would waste 8 × 48 tokens, far more than a pass.
        let lengths = [64, 16, 16, 64, 16, 16, 16, 16, 16, 16];
        assert_eq!(
            length_groups(&lengths, 32),
            vec![vec![1, 2, 4, 5, 6, 7, 8, 9], vec![0, 3]]
        );
        // With a pass as dear as the waste, they stay together.
        assert_eq!(length_groups(&lengths, 400).len(), 1);
        assert!(length_groups(&[], 32).is_empty());
    }

    #[test]
    fn shortest_first_then_restore_gives_item_order() {
        let lengths = [5, 2, 9, 2, 7];
        let order = LengthOrder::new(&lengths);
        let chunks = order.chunks(2, |items| Ok(items.to_vec())).unwrap();
        assert_eq!(chunks, vec![vec![1, 3], vec![0, 4], vec![2]]);
        let computed: Vec<usize> = chunks.concat().iter().map(|&i| lengths[i] * 10).collect();
        assert_eq!(order.restore(&computed), vec![50, 20, 90, 20, 70]);
        let rows = Tensor::new(
            computed.iter().map(|&v| v as u32).collect::<Vec<_>>(),
            &candle_core::Device::Cpu,
        )
        .unwrap();
        let restored = order.restore_rows(&rows).unwrap().to_vec1::<u32>().unwrap();
        assert_eq!(restored, vec![50, 20, 90, 20, 70]);
    }
}
