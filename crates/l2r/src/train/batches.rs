//! Tokenize once, then batch examples of similar length together so padding wastes little compute.

use crate::backbone::TextTokenizer;
use crate::data::Example;
use crate::error::{Error, Result};
use rand::seq::SliceRandom;
use rand::Rng;

pub struct TokenizedExample {
    pub ids: Vec<u32>,
    pub label: usize,
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

/// Indices of `lengths` from shortest to longest (ties in input order): chunks of it pad little. For passes whose
/// results do not depend on which examples share a batch (embedding, evaluation).
pub fn shortest_first(lengths: &[usize]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&i| lengths[i]);
    order
}

/// Puts values computed in `order` (value k belongs to item `order[k]`) back in item order.
pub fn unsort<T: Clone + Default>(values: &[T], order: &[usize]) -> Vec<T> {
    let mut by_item = vec![T::default(); values.len()];
    for (value, &item) in values.iter().zip(order) {
        by_item[item] = value.clone();
    }
    by_item
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
    fn shortest_first_then_unsort_restores_item_order() {
        let lengths = [5, 2, 9, 2, 7];
        let order = shortest_first(&lengths);
        assert_eq!(order, vec![1, 3, 0, 4, 2]);
        let computed: Vec<usize> = order.iter().map(|&i| lengths[i] * 10).collect();
        assert_eq!(unsort(&computed, &order), vec![50, 20, 90, 20, 70]);
    }
}
