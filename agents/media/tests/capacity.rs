//! measure_capacity: a real measurement on a generated clip.

use peerflow_media::{FfmpegTranscoder, default_ladder, ladder_pixels, measure_capacity};

#[test]
fn capacity_of_the_default_ladder_is_measured_and_consistent() {
    let ladder = default_ladder();
    let capacity = measure_capacity(&FfmpegTranscoder::new(), &ladder).unwrap();
    assert!(capacity.realtime_factor > 0.0 && capacity.realtime_factor.is_finite());
    // Both figures come from the same wall time over a 2 s, 30 fps clip.
    let wall_s = 2.0 / capacity.realtime_factor;
    let expected = ladder_pixels(&ladder, 2.0, 30.0) as f64 / wall_s;
    assert!((capacity.pixels_per_second - expected).abs() < 1.0);
}
