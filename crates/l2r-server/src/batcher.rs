//! Dynamic batching: requests from every client queue to one model thread, which waits a few milliseconds for
//! more work after the first request and answers everything it gathered with one forward pass per task filter.
//! One thread owns the model, so candle's own threads get the cores and requests never contend for them.

use crate::error::ApiError;
use crate::stats::Stats;
use l2r::predict::{Prediction, RunPredictor};
use std::collections::BTreeMap;
use std::sync::mpsc::{
    channel, sync_channel, Receiver, RecvTimeoutError, Sender, SyncSender, TrySendError,
};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

#[derive(Debug, Clone)]
pub struct BatchPolicy {
    /// Stop gathering once this many texts are waiting.
    pub max_texts: usize,
    /// How long the first request of a batch waits for company.
    pub max_wait: Duration,
    /// Requests that may wait in the queue before new ones are refused with 429.
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

/// The predictions, and the library generation that made them (`None` for a run folder).
pub type Reply = Result<(Vec<Prediction>, Option<u64>), ApiError>;

struct Job {
    texts: Vec<String>,
    task: Option<String>,
    reply: oneshot::Sender<Reply>,
}

/// A handle to the model thread; cheap to clone, one per request.
#[derive(Clone)]
pub struct Batcher {
    jobs: SyncSender<Job>,
    models: Sender<RunPredictor>,
}

impl Batcher {
    /// Starts the model thread (with no model yet, requests are answered 503 until [`Batcher::swap`] gives one);
    /// it stops when the last handle is dropped.
    pub fn start(predictor: Option<RunPredictor>, policy: BatchPolicy, stats: Arc<Stats>) -> Self {
        let (jobs, queue) = sync_channel(policy.queue.max(1));
        let (models, swaps) = channel();
        std::thread::Builder::new()
            .name("l2r-model".into())
            .spawn(move || model_loop(predictor, queue, swaps, policy, stats))
            .expect("spawning the model thread");
        Batcher { jobs, models }
    }

    /// Hands the model thread a new model: it answers with it from its next batch on (a batch in progress finishes
    /// with the old one, so no request sees a half-loaded model).
    pub fn swap(&self, predictor: RunPredictor) -> Result<(), ApiError> {
        self.models
            .send(predictor)
            .map_err(|_| ApiError::unavailable("the model thread has stopped"))
    }

    pub async fn classify(&self, texts: Vec<String>, task: Option<String>) -> Reply {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .try_send(Job { texts, task, reply })
            .map_err(|e| match e {
                TrySendError::Full(_) => ApiError::too_many(
                    "the server's queue is full; retry shortly (the queue holds --queue requests)",
                ),
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
    mut predictor: Option<RunPredictor>,
    queue: Receiver<Job>,
    swaps: Receiver<RunPredictor>,
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
        // Between batches: the newest model handed over since the last batch answers this one.
        while let Ok(newer) = swaps.try_recv() {
            predictor = Some(newer);
        }
        match &predictor {
            Some(predictor) => answer(predictor, jobs, &stats),
            None => {
                for job in jobs {
                    let _ = job.reply.send(Err(ApiError::unavailable(
                        "no model is loaded yet (the library has no generation); retry once /readyz answers 200",
                    )));
                }
            }
        }
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
        crate::metrics::batch(texts.len());
        match predictor.predict(&texts, task.as_deref()) {
            Ok(predictions) => {
                crate::metrics::generation(predictor.generation);
                predictions
                    .iter()
                    .for_each(|p| crate::metrics::answer(&p.task));
                let mut answers = predictions.into_iter();
                for job in group {
                    let mine: Vec<Prediction> = answers.by_ref().take(job.texts.len()).collect();
                    let _ = job.reply.send(Ok((mine, predictor.generation)));
                }
            }
            Err(error) => {
                // A task the model does not know (a request validated against another generation) is the
                // client's error; anything else is ours.
                let unknown_task = task
                    .as_deref()
                    .is_some_and(|t| !predictor.tasks().iter().any(|i| i.name == t));
                if !unknown_task {
                    tracing::error!("prediction failed: {error}");
                }
                for job in group {
                    let reply = match unknown_task {
                        true => ApiError::bad_request(error.to_string()),
                        false => ApiError::internal(error.to_string()),
                    };
                    let _ = job.reply.send(Err(reply));
                }
            }
        }
    }
}
