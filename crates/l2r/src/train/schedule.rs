//! Learning-rate schedule: linear warm-up, then linear decay to zero.

#[derive(Debug, Clone, Copy)]
pub struct LrSchedule {
    pub peak: f64,
    pub warmup_steps: usize,
    pub total_steps: usize,
}

impl LrSchedule {
    pub fn new(peak: f64, total_steps: usize, warmup_fraction: f64) -> Self {
        let warmup_steps = ((total_steps as f64) * warmup_fraction).round() as usize;
        LrSchedule {
            peak,
            warmup_steps,
            total_steps: total_steps.max(1),
        }
    }

    /// Learning rate for 0-based `step`.
    pub fn at(&self, step: usize) -> f64 {
        if step < self.warmup_steps {
            return self.peak * (step + 1) as f64 / self.warmup_steps as f64;
        }
        let decay_steps = (self.total_steps - self.warmup_steps).max(1) as f64;
        let done = (step - self.warmup_steps) as f64;
        self.peak * (1.0 - done / decay_steps).max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::LrSchedule;

    #[test]
    fn warms_up_then_decays_to_zero() {
        let s = LrSchedule::new(1.0, 100, 0.1);
        assert!((s.at(0) - 0.1).abs() < 1e-12);
        assert!((s.at(9) - 1.0).abs() < 1e-12);
        assert!((s.at(10) - 1.0).abs() < 1e-12);
        assert!(s.at(55) < s.at(20));
        assert!(s.at(100).abs() < 1e-12);
    }
}
