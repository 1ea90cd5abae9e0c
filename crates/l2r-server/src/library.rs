//! Following a task library: whenever its `CURRENT` pointer names another generation (checked every second, and
//! on `POST /v1/admin/reload`), that generation is loaded beside the serving one and handed to the model thread,
//! which switches between batches. A generation that fails to load is logged and the old one keeps serving.

use crate::batcher::Batcher;
use crate::routes::ModelInfo;
use l2r::library::Library;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

pub struct Reloader {
    library: Library,
    /// The generation loaded last; the lock also keeps two loads from running at once.
    loaded: Mutex<Option<u64>>,
}

impl Reloader {
    pub fn new(library: Library) -> Self {
        Reloader {
            library,
            loaded: Mutex::new(None),
        }
    }

    /// Loads the current generation if it is not the one loaded; returns the generation now loaded.
    pub fn reload(
        &self,
        batcher: &Batcher,
        info: &RwLock<Option<ModelInfo>>,
    ) -> l2r::Result<Option<u64>> {
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.library.current_generation()?;
        if current.is_none() || current == *loaded {
            return Ok(*loaded);
        }
        let predictor = self.library.predictor(current)?;
        let model = ModelInfo::of(&predictor);
        batcher
            .swap(predictor)
            .map_err(|e| l2r::Error::invalid(e.message))?;
        *info.write().unwrap_or_else(|e| e.into_inner()) = Some(model);
        tracing::info!("serving generation {current:?}");
        *loaded = current;
        Ok(current)
    }

    /// Polls the pointer every `period` on a thread of its own, for as long as the process runs.
    pub fn watch(
        self: Arc<Self>,
        batcher: Batcher,
        info: Arc<RwLock<Option<ModelInfo>>>,
        period: Duration,
    ) {
        std::thread::Builder::new()
            .name("l2r-library-watch".into())
            .spawn(move || loop {
                if let Err(error) = self.reload(&batcher, &info) {
                    tracing::error!("cannot load the library's current generation: {error}");
                }
                std::thread::sleep(period);
            })
            .expect("spawning the library watcher");
    }
}
