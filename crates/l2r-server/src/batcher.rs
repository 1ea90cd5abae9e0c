//! Dynamic batching: requests from every client queue to one model thread, which waits a few milliseconds for
//! more work after the first request and answers everything it gathered with one forward pass per task filter.
//! One thread owns the model, so candle's own threads get the cores and requests never contend for them.

use crate::error::ApiError;
use crate::stats::Stats;
use l2r::predict::{Prediction, RunPredictor};
use std::collections::BTreeMap;
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

#[derive(Debug, Clone)]
pub struct BatchPolicy {
    /// Stop gathering once this many texts are waiting.
    pub max_texts: usize,
    /// How long the first request of a batch waits for company.
    pub max_wait: Duration,
    /// Requests that may wait in the queue before new ones are refused with 503.
    pub queue: usize,
}

impl Default for BatchPolicy {
    fn default() -> Self {
        BatchPolicy {
            max_texts: 64,
            max_wait: Duration::from_millis(5),
            queue: 1024,
        }
    }
}

type Reply = Result<Vec<Prediction>, ApiError>;

struct Job {
    texts: Vec<String>,
    task: Option<String>,
    reply: oneshot::Sender<Reply>,
}

/// A handle to the model thread; cheap to clone, one per request.
#[derive(Clone)]
pub struct Batcher {
    jobs: SyncSender<Job>,
}

impl Batcher {
    /// Starts the model thread; it stops when the last handle is dropped.
    pub fn start(predictor: RunPredictor, policy: BatchPolicy, stats: Arc<Stats>) -> Self {
        let (jobs, queue) = sync_channel(policy.queue.max(1));
        std::thread::Builder::new()
            .name("l2r-model".into())
            .spawn(move || model_loop(predictor, queue, policy, stats))
            .expect("spawning the model thread");
        Batcher { jobs }
    }

    pub async fn classify(&self, texts: Vec<String>, task: Option<String>) -> Reply {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .try_send(Job { texts, task, reply })
            .map_err(|e| match e {
                TrySendError::Full(_) => {
                    ApiError::unavailable("the server is at capacity; retry shortly")
                }
                TrySendError::Disconnected(_) => {
                    ApiError::unavailable("the model thread has stopped")
                }
            })?;
        answer
            .await
            .map_err(|_| ApiError::unavailable("the model thread dropped the request"))?
    }
}

fn model_loop(
    predictor: RunPredictor,
    queue: Receiver<Job>,
    policy: BatchPolicy,
    stats: Arc<Stats>,
) {
    while let Ok(first) = queue.recv() {
        let deadline = Instant::now() + policy.max_wait;
        let mut waiting = first.texts.len();
        let mut jobs = vec![first];
        while waiting < policy.max_texts {
            let left = deadline.saturating_duration_since(Instant::now());
            match queue.recv_timeout(left) {
                Ok(job) => {
                    waiting += job.texts.len();
                    jobs.push(job);
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            }
        }
        answer(&predictor, jobs, &stats);
    }
}

/// One forward pass per task filter over all gathered texts; each job gets its own slice of the answers.
fn answer(predictor: &RunPredictor, jobs: Vec<Job>, stats: &Stats) {
    let mut groups: BTreeMap<Option<String>, Vec<Job>> = BTreeMap::new();
    for job in jobs {
        groups.entry(job.task.clone()).or_default().push(job);
    }
    for (task, group) in groups {
        let texts: Vec<&str> = group
            .iter()
            .flat_map(|j| j.texts.iter().map(String::as_str))
            .collect();
        stats.batch();
        match predictor.predict(&texts, task.as_deref()) {
            Ok(predictions) => {
                let mut answers = predictions.into_iter();
                for job in group {
                    let mine: Vec<Prediction> = answers.by_ref().take(job.texts.len()).collect();
                    let _ = job.reply.send(Ok(mine));
                }
            }
            Err(error) => {
                tracing::error!("prediction failed: {error}");
                for job in group {
                    let _ = job.reply.send(Err(ApiError::internal(error.to_string())));
                }
            }
        }
    }
}
