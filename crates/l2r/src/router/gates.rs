//! Turning gate logits into per-example module weights during a forward pass.

use super::config::{GateKind, RouterInput};
use super::network::RouterNetwork;
use crate::compose::LayerWeights;
use candle_core::{Device, IndexOp, Result, Tensor, D};
use rand::rngs::StdRng;
use rand::Rng;
use std::cell::RefCell;

/// The logistic noise of a training forward pass, drawn ahead for a whole batch: layer by layer, each a
/// (rows, modules) tensor, so that sub-batches of its rows see exactly the noise the whole batch would.
pub struct GateNoise {
    layers: Vec<Tensor>,
}

impl GateNoise {
    pub fn draw(
        rng: &mut StdRng,
        layers: usize,
        (rows, modules): (usize, usize),
        device: &Device,
    ) -> Result<Self> {
        let layers = (0..layers)
            .map(|_| logistic_noise((rows, modules), rng, device))
            .collect::<Result<_>>()?;
        Ok(GateNoise { layers })
    }

    /// The noise of some of the rows (`index`: positions in the batch), in that order.
    pub fn rows(&self, index: &Tensor) -> Result<GateNoise> {
        let layers = self
            .layers
            .iter()
            .map(|noise| noise.index_select(index, 0))
            .collect::<Result<_>>()?;
        Ok(GateNoise { layers })
    }

    fn layer(&self, layer: usize) -> Result<&Tensor> {
        self.layers.get(layer).ok_or_else(|| {
            candle_core::Error::Msg(format!("no gate noise drawn for layer {layer}"))
        })
    }
}

/// The routers applied to one batch. With `noise` (training) Gumbel-sigmoid gates get logistic noise.
pub struct RouterWeights<'a> {
    network: &'a RouterNetwork,
    /// (batch, d) unit-norm frozen representation of the inputs, as `network.config.input` asks
    /// (see [`crate::embedded::EmbeddedExamples::features`]).
    frozen: Tensor,
    noise: Option<GateNoise>,
    /// In a fit, each example's own task: with `top_k`, its module runs whatever its gate.
    own_tasks: Option<Vec<usize>>,
    /// Gate logits of every layer, in order, for auxiliary losses and routing statistics.
    pub logits: RefCell<Vec<Tensor>>,
    /// Normalised weights of every layer, in order.
    pub weights: RefCell<Vec<Tensor>>,
}

impl<'a> RouterWeights<'a> {
    pub fn new(network: &'a RouterNetwork, frozen: Tensor, noise: Option<GateNoise>) -> Self {
        RouterWeights {
            network,
            frozen,
            noise,
            own_tasks: None,
            logits: RefCell::new(Vec::new()),
            weights: RefCell::new(Vec::new()),
        }
    }

    /// The same, fitting on examples of known tasks: with `top_k`, each example runs its k modules of largest
    /// (noisy) gate and its own task's module, so the fit's cost stays that of k + 1 modules and the loss still
    /// reaches the gate of the module that should win.
    pub fn keeping(mut self, own_tasks: Vec<usize>) -> Self {
        self.own_tasks = Some(own_tasks);
        self
    }

    /// Mean over layers of the normalised weights (batch, T): which module the routers favour overall.
    pub fn mean_weights(&self) -> Result<Tensor> {
        let weights = self.weights.borrow();
        Tensor::stack(&weights, 0)?.mean(0)
    }

    fn gates(&self, layer: usize, z: &Tensor) -> Result<Tensor> {
        let tau = self.network.config.temperature;
        match self.network.config.gate {
            GateKind::Softmax => candle_nn::ops::softmax(&(z / tau)?, D::Minus1),
            GateKind::GumbelSigmoid => match &self.noise {
                Some(noise) => candle_nn::ops::sigmoid(&((z + noise.layer(layer)?)? / tau)?),
                None => candle_nn::ops::sigmoid(z),
            },
        }
    }
}

impl LayerWeights for RouterWeights<'_> {
    fn weights(&self, layer: usize, hidden: &Tensor) -> Result<Tensor> {
        let router = self.network.router_for_layer(layer);
        let q = match self.network.config.input {
            RouterInput::MeanPooled | RouterInput::PooledLayers => self.frozen.clone(),
            RouterInput::LayerCls => self
                .network
                .layer_input(layer, hidden.i((.., 0, ..))?.contiguous()?)
                .map_err(|e| candle_core::Error::Msg(e.to_string()))?,
        };
        let z = self
            .network
            .logits(router, &q, &self.frozen)
            .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        let mut g = self.gates(layer, &z)?;
        if let Some(k) = self.network.config.top_k {
            match (&self.noise, &self.own_tasks) {
                (None, _) => g = (&g * top_k_mask(&g, k, None)?)?,
                (Some(_), Some(own)) => g = (&g * top_k_mask(&g, k, Some(own))?)?,
                // Training without known tasks: every module, as a dense fit would.
                (Some(_), None) => {}
            }
        }
        let w = g.broadcast_div(&g.sum_keepdim(D::Minus1)?.clamp(1e-12, f64::INFINITY)?)?;
        self.logits.borrow_mut().push(z);
        self.weights.borrow_mut().push(w.clone());
        Ok(w)
    }
}

/// (batch, T): 1 at each row's k largest gates (ties to the lower module) and at its entry of `also`, 0 elsewhere.
fn top_k_mask(gates: &Tensor, k: usize, also: Option<&[usize]>) -> Result<Tensor> {
    let rows = gates.to_vec2::<f32>()?;
    let t = rows.first().map_or(0, Vec::len);
    let mut mask = vec![0f32; rows.len() * t];
    for (r, row) in rows.iter().enumerate() {
        let mut order: Vec<usize> = (0..t).collect();
        if k < t {
            order.select_nth_unstable_by(k, |&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
        }
        for &i in order.iter().take(k) {
            mask[r * t + i] = 1.0;
        }
        if let Some(&own) = also.and_then(|also| also.get(r)).filter(|&&own| own < t) {
            mask[r * t + own] = 1.0;
        }
    }
    Tensor::from_vec(mask, gates.shape(), gates.device())
}

/// (rows, modules) of log u − log(1 − u), u ~ U(0, 1): the difference of two Gumbels.
fn logistic_noise(
    (rows, modules): (usize, usize),
    rng: &mut StdRng,
    device: &Device,
) -> Result<Tensor> {
    let values: Vec<f32> = (0..rows * modules)
        .map(|_| {
            let u: f32 = rng.random_range(1e-6..1.0 - 1e-6);
            u.ln() - (1.0 - u).ln()
        })
        .collect();
    Tensor::from_vec(values, (rows, modules), device)
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Var};

    #[test]
    fn the_top_k_mask_keeps_each_rows_largest_gates() {
        let gates = candle_core::Tensor::new(
            &[[0.1f32, 0.9, 0.5, 0.5], [0.3, 0.2, 0.1, 0.0]],
            &Device::Cpu,
        )
        .unwrap();
        let mask = super::top_k_mask(&gates, 2, None)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert_eq!(mask, [[0.0, 1.0, 1.0, 0.0], [1.0, 1.0, 0.0, 0.0]]);
        let mask = super::top_k_mask(&gates, 1, Some(&[3, 0]))
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert_eq!(mask, [[0.0, 1.0, 0.0, 1.0], [1.0, 0.0, 0.0, 0.0]]);
        let every = super::top_k_mask(&gates, 9, None).unwrap();
        assert_eq!(every.sum_all().unwrap().to_scalar::<f32>().unwrap(), 8.0);
    }

    #[test]
    fn candle_sigmoid_carries_the_gradient_the_gates_need() {
        let x = Var::new(&[-2f32, 0.0, 3.0], &Device::Cpu).unwrap();
        let y = candle_nn::ops::sigmoid(x.as_tensor()).unwrap();
        let grads = y.sum_all().unwrap().backward().unwrap();
        let got = grads.get(x.as_tensor()).unwrap().to_vec1::<f32>().unwrap();
        for (g, x) in got.iter().zip([-2f32, 0.0, 3.0]) {
            let s = 1.0 / (1.0 + (-x).exp());
            assert!((g - s * (1.0 - s)).abs() < 1e-6, "σ'({x}) = {g}");
        }
    }
}
