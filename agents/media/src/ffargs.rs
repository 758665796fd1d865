//! Building blocks shared by the ffmpeg command lines.

use std::ffi::OsString;

use crate::profile::Profile;

/// fMP4 that carries the source timestamps in `tfdt` (`frag_discont`), its moov written once the
/// first packets, and so the audio config, are known (`delay_moov`).
pub(crate) const FMP4_MOVFLAGS: &str =
    "+frag_keyframe+empty_moov+default_base_moof+frag_discont+delay_moov";

/// The options every run starts with: quiet, no stdin, overwrite, and stop at the first decode
/// error so a truncated segment fails instead of yielding a short rendition.
pub(crate) fn common() -> Vec<OsString> {
    os_args(&[
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-xerror",
        "-y",
    ])
}

/// `[0:v:0]split=N[s0]…;[s0]scale=W:H,setsar=1,format=yuv420p[v0];…`: the first video stream
/// decoded once and scaled per profile, output pads `[v0]`, `[v1]`, … in ladder order. Each
/// profile's size is [`Profile::fit`] of the source, computed by the scale filter itself
/// ([`fit_scale`]) so that no probe is needed first.
pub(crate) fn scale_graph(ladder: &[Profile]) -> String {
    graph_with(ladder.iter().map(fit_scale))
}

/// Like [`scale_graph`], to sizes already known (`sizes[i]` for `ladder[i]`).
pub(crate) fn scale_graph_to(sizes: &[(u32, u32)]) -> String {
    graph_with(sizes.iter().map(|(w, h)| format!("scale={w}:{h}")))
}

fn graph_with(scales: impl ExactSizeIterator<Item = String>) -> String {
    let n = scales.len();
    let mut graph = format!("[0:v:0]split={n}");
    graph.extend((0..n).map(|i| format!("[s{i}]")));
    for (i, scale) in scales.enumerate() {
        graph.push_str(&format!(";[s{i}]{scale},setsar=1,format=yuv420p[v{i}]"));
    }
    graph
}

/// A scale filter that sizes its output by [`Profile::fit`] from the input's `iw`, `ih` and
/// `sar`: the box oriented like the source, the limiting side the box's, the other the nearest
/// even number (halves up), at least 2. The display width is `iw*sar` against a display height
/// of `ih`, the same ratio [`Profile::fit`] forms in integers.
pub(crate) fn fit_scale(profile: &Profile) -> String {
    let (w, h) = (profile.width, profile.height);
    // Whether the box turns: a portrait source in a landscape box or the other way round.
    let turn = if w > h {
        "gt(ih,iw*sar)"
    } else if h > w {
        "gt(iw*sar,ih)"
    } else {
        "0"
    };
    let bw = format!("if({turn},{h},{w})");
    let bh = format!("if({turn},{w},{h})");
    let wide = format!("gte(iw*sar*{bh},ih*{bw})");
    let out_w = format!("if({wide},{bw},max(2,2*floor(({bh}*iw*sar+ih)/(2*ih))))");
    let out_h = format!("if({wide},max(2,2*floor(({bw}*ih+iw*sar)/(2*iw*sar))),{bh})");
    format!("scale=w='{out_w}':h='{out_h}'")
}

pub(crate) fn os_args(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::default_ladder;

    #[test]
    fn scale_graph_splits_once_and_scales_per_profile() {
        assert_eq!(
            scale_graph_to(&[(640, 360), (240, 426)]),
            "[0:v:0]split=2[s0][s1];[s0]scale=640:360,setsar=1,format=yuv420p[v0];\
             [s1]scale=240:426,setsar=1,format=yuv420p[v1]"
        );
        let graph = scale_graph(&default_ladder());
        assert!(
            graph.starts_with("[0:v:0]split=2[s0][s1];[s0]scale=w='"),
            "{graph}"
        );
        assert!(graph.ends_with("setsar=1,format=yuv420p[v1]"), "{graph}");
    }
}
