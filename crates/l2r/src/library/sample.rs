//! Which test examples a change evaluates. The tasks it brings in are evaluated on their whole held-back test split;
//! the earlier tasks share a budget of examples (`evaluation_budget` in `library.toml`), so that an add costs the
//! same with 50 tasks as with 2. Each task's examples come in one fixed order, the same in every generation, in
//! which every prefix holds its classes in proportion: a task evaluated on n examples is evaluated on the first n,
//! and two generations are compared on the same examples.

use rand::seq::SliceRandom;
use rand::SeedableRng;

/// The order in which a task's test examples are evaluated: each class's examples shuffled (seeded by `seed`), then
/// merged so that the i-th of a class of size c comes at about i / c of the way (a prefix is a stratified sample).
pub fn evaluation_order(labels: &[usize], seed: u64) -> Vec<usize> {
    let classes = labels.iter().max().map_or(0, |&m| m + 1);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut keyed: Vec<(f64, usize, usize)> = Vec::with_capacity(labels.len());
    for class in 0..classes {
        let mut members: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        members.shuffle(&mut rng);
        let size = members.len() as f64;
        for (rank, index) in members.into_iter().enumerate() {
            keyed.push(((rank as f64 + 0.5) / size, class, index));
        }
    }
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    keyed.into_iter().map(|(_, _, index)| index).collect()
}

/// The seed of a task's evaluation order: its folder id (fixed for the task's life) and the library's seed.
pub fn order_seed(task_id: &str, library_seed: u64) -> u64 {
    crate::hash::fnv1a(task_id.as_bytes()) ^ library_seed
}

/// How many test examples of each task to evaluate. `sizes[j]`: task j's test examples; `new[j]`: whether the
/// change brings task j in (then all of them); `classes[j]`: its classes. The earlier tasks are evaluated whole
/// when they fit in `budget` (or `budget` is 0); else they share it evenly (a task smaller than its share gives the
/// rest to the others), each at least one example per class.
pub fn evaluated_counts(
    sizes: &[usize],
    new: &[bool],
    classes: &[usize],
    budget: usize,
) -> Vec<usize> {
    let mut counts = sizes.to_vec();
    let mut earlier: Vec<usize> = (0..sizes.len()).filter(|&j| !new[j]).collect();
    let total: usize = earlier.iter().map(|&j| sizes[j]).sum();
    if budget == 0 || total <= budget {
        return counts;
    }
    earlier.sort_by_key(|&j| sizes[j]);
    let mut left = budget;
    for (done, &j) in earlier.iter().enumerate() {
        let share = left / (earlier.len() - done);
        counts[j] = share.max(classes[j]).min(sizes[j]);
        left = left.saturating_sub(counts[j]);
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_prefix_of_the_order_holds_the_classes_in_proportion() {
        // 30 of class 0, 10 of class 1, 20 of class 2, interleaved in the file.
        let labels: Vec<usize> = (0..60).map(|i| [0, 2, 0, 1, 0, 2][i % 6]).collect();
        let order = evaluation_order(&labels, 7);
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..60).collect::<Vec<_>>(), "a permutation");
        for n in [6, 12, 30, 60] {
            let count = |class| order[..n].iter().filter(|&&i| labels[i] == class).count();
            assert_eq!(
                [count(0), count(1), count(2)],
                [n / 2, n / 6, n / 3],
                "prefix {n}"
            );
        }
        assert_eq!(order, evaluation_order(&labels, 7), "fixed by its seed");
        assert_ne!(order, evaluation_order(&labels, 8));
    }

    #[test]
    fn new_tasks_are_evaluated_whole_and_earlier_ones_share_the_budget() {
        let sizes = [80, 80, 20, 400, 80];
        let new = [false, false, false, false, true];
        let classes = [2, 2, 2, 10, 2];
        // 580 earlier examples fit in 600: every example.
        assert_eq!(evaluated_counts(&sizes, &new, &classes, 600), sizes);
        assert_eq!(evaluated_counts(&sizes, &new, &classes, 0), sizes);
        // 200 shared: the task of 20 takes all 20, the other three 60 each; the new task whole.
        assert_eq!(
            evaluated_counts(&sizes, &new, &classes, 200),
            [60, 60, 20, 60, 80]
        );
        // A budget below one per class still evaluates every class once.
        assert_eq!(
            evaluated_counts(&sizes, &new, &classes, 8),
            [2, 2, 2, 10, 80]
        );
        // A change that brings no task in (a remove) shares the budget over every task.
        let none_new = [false; 5];
        let counts = evaluated_counts(&sizes, &none_new, &classes, 300);
        assert_eq!(counts, [70, 70, 20, 70, 70]);
    }
}
