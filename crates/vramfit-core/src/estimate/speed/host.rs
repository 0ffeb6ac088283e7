//! CPU RAM as a place weights are read from (llama.cpp layers kept on the CPU, offloaded
//! optimizer steps): its bandwidth by platform, and the share of it a CPU decode reaches.

/// Default CPU RAM bandwidth in GB/s for a GPU of `class` and `vendor`, with what it stands for.
///
/// Overridden by `--ram-bandwidth`. Peak figures are channels × 8 bytes × MT/s.
#[must_use]
pub fn default_ram_bandwidth(class: &str, vendor: &str) -> (f64, &'static str) {
    match (class, vendor) {
        // Unified memory: CPU and GPU read the same LPDDR at the same rate.
        ("apple", _) => (0.0, "unified memory: the CPU reads the GPU's own memory"),
        ("datacenter", _) => (204.8, "server host, 8 channels of DDR4-3200 (8 × 8 B × 3200 MT/s = 204.8 GB/s)"),
        _ => (83.2, "desktop host, 2 channels of DDR5-5200 (2 × 8 B × 5200 MT/s = 83.2 GB/s)"),
    }
}

/// Share of peak DDR bandwidth a llama.cpp CPU decode reaches: 7B Q4_0 (3.83 GB) at 18.27
/// tokens/s on an i9-13900K with DDR5-6400 (102.4 GB/s): 70 GB/s = 0.68.
pub const CPU_ETA: f64 = 0.68;
/// Where [`CPU_ETA`] comes from.
pub const CPU_ETA_SOURCE: &str =
    "llama.cpp issue #34 (i9-13900K, DDR5-6400, 7B Q4_0, 8 threads: 18.27 tokens/s = 0.68 of 102.4 GB/s)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_platform_has_a_stated_default() {
        for (class, vendor) in [("consumer", "nvidia"), ("datacenter", "nvidia"), ("workstation", "amd")] {
            let (bw, why) = default_ram_bandwidth(class, vendor);
            assert!(bw > 10.0 && why.contains("GB/s"), "{class}");
        }
        assert_eq!(default_ram_bandwidth("apple", "apple").0, 0.0);
    }
}
