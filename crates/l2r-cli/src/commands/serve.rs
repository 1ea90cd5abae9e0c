use super::Output;
use anyhow::Context;
use clap::Args;
use l2r::predict::RunPredictor;
use l2r_server::{BatchPolicy, Limits, ModelSource, ServerConfig};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Args)]
pub struct ServeArgs {
    /// The run folder (the --out of `l2r run`).
    #[arg(long, required_unless_present = "library", conflicts_with = "library")]
    run: Option<PathBuf>,
    /// A task library (`l2r library init`): its current generation answers, and the server moves to each new one
    /// without a restart (the pointer is checked every second, or at once on `POST /v1/admin/reload`).
    #[arg(long)]
    library: Option<PathBuf>,
    /// Address to listen on (port 0 picks a free port; the chosen address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Run only each text's K most weighted modules per layer (top-k sparse composition), overriding the run's or
    /// library's `[router] top_k`; the cost of a text then stays that of K modules however many tasks there are.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    top_k: Option<u64>,
    /// Which seed's sequence answers (default: the config's first).
    #[arg(long)]
    seed: Option<u64>,
    /// Which task order's sequence answers (default: the config's first).
    #[arg(long)]
    order: Option<usize>,
    /// Largest request body, bytes.
    #[arg(long, default_value_t = Limits::default().max_body_bytes)]
    max_body_bytes: usize,
    /// Most texts per request.
    #[arg(long, default_value_t = Limits::default().max_texts)]
    max_texts: usize,
    /// Longest text, characters.
    #[arg(long, default_value_t = Limits::default().max_text_chars)]
    max_text_chars: usize,
    /// How long a request may wait for its answer, milliseconds (then 504).
    #[arg(long, default_value_t = 30_000)]
    request_timeout_ms: u64,
    /// How long a client may take to send a request's head, then its body, milliseconds (then the connection
    /// is closed, or 408 for a body); idle keep-alive connections are closed after it too.
    #[arg(long, default_value_t = Limits::default().read_timeout.as_millis() as u64)]
    read_timeout_ms: u64,
    /// Requests that may wait for the model; beyond, 429.
    #[arg(long, default_value_t = BatchPolicy::default().queue)]
    queue: usize,
    /// A file holding a bearer token: every request but /healthz and /readyz then needs
    /// `Authorization: Bearer <token>` (401 without).
    #[arg(long)]
    api_key_file: Option<PathBuf>,
    /// Dynamic batching: most texts answered by one forward pass.
    #[arg(long, default_value_t = BatchPolicy::default().max_texts)]
    batch_texts: usize,
    /// Dynamic batching: how long a request waits for others to join its batch, milliseconds.
    #[arg(long, default_value_t = 5)]
    batch_wait_ms: u64,
}

pub fn run(args: ServeArgs, output: &Output) -> anyhow::Result<()> {
    let api_key = match &args.api_key_file {
        Some(path) => {
            let key = std::fs::read_to_string(path)
                .with_context(|| format!("reading the API key from {}", path.display()))?
                .trim()
                .to_owned();
            anyhow::ensure!(
                !key.is_empty(),
                "the API key file {} is empty",
                path.display()
            );
            Some(key)
        }
        None => None,
    };
    let source = match (&args.run, &args.library) {
        (_, Some(dir)) => {
            let mut library = super::open_library(dir, output)?;
            if let Some(k) = args.top_k {
                library.config.router.top_k = Some(k as usize);
            }
            output.info(format!(
                "serving the task library {} (generation {:?}, followed)",
                dir.display(),
                library.current_generation()?
            ));
            ModelSource::Library(library)
        }
        (Some(run), None) => {
            output.info(format!("loading run {}", run.display()));
            let mut predictor = RunPredictor::load_on(run, args.seed, args.order, output.device)?;
            if let Some(k) = args.top_k {
                predictor.set_top_k(Some(k as usize));
            }
            let tasks: Vec<&str> = predictor.tasks().iter().map(|t| t.name.as_str()).collect();
            output.info(format!(
                "seed {} order {} step {}: tasks {}",
                predictor.seed,
                predictor.order,
                predictor.step,
                tasks.join(", ")
            ));
            ModelSource::Run(predictor)
        }
        (None, None) => anyhow::bail!("give --run DIR or --library DIR"),
    };
    let config = ServerConfig {
        addr: args.addr,
        limits: Limits {
            max_body_bytes: args.max_body_bytes,
            max_texts: args.max_texts,
            max_text_chars: args.max_text_chars,
            request_timeout: Duration::from_millis(args.request_timeout_ms),
            read_timeout: Duration::from_millis(args.read_timeout_ms),
        },
        batching: BatchPolicy {
            max_texts: args.batch_texts,
            max_wait: Duration::from_millis(args.batch_wait_ms),
            queue: args.queue,
        },
        api_key,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let json = output.json;
    runtime.block_on(l2r_server::serve(source, config, |addr| {
        // The address goes to stdout so scripts can read it (with port 0 it is the only way to learn it).
        if json {
            println!("{}", serde_json::json!({ "listening": addr.to_string() }));
        } else {
            println!("listening on http://{addr}");
        }
    }))?;
    output.info("stopped");
    Ok(())
}
