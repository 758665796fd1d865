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
/// decoded once and scaled per profile, output pads `[v0]`, `[v1]`, … in ladder order.
pub(crate) fn scale_graph(ladder: &[Profile]) -> String {
    let n = ladder.len();
    let mut graph = format!("[0:v:0]split={n}");
    graph.extend((0..n).map(|i| format!("[s{i}]")));
    for (i, p) in ladder.iter().enumerate() {
        graph.push_str(&format!(
            ";[s{i}]scale={}:{},setsar=1,format=yuv420p[v{i}]",
            p.width, p.height
        ));
    }
    graph
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
            scale_graph(&default_ladder()),
            "[0:v:0]split=2[s0][s1];[s0]scale=640:360,setsar=1,format=yuv420p[v0];\
             [s1]scale=426:240,setsar=1,format=yuv420p[v1]"
        );
    }
}
