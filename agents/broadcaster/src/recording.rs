//! The recording on disk: `<root>/<stream>/<rendition>/<seq>.<ext>` for every rendition segment,
//! `<root>/<stream>/<rendition>.m3u8` (the full media playlist, `EXT-X-ENDLIST` once the stream
//! ended) and `<root>/<stream>/index.m3u8` (the master). Every file is written to a temporary
//! name and renamed, so a reader never sees half a file.

use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use tokio::fs;

use crate::playlist::{self, MediaView};
use crate::processor::{RenditionOut, SegmentFormat};
use crate::stream::StreamState;

/// A failed read or write under the recordings directory.
#[derive(Debug, thiserror::Error)]
#[error("recording {}: {source}", path.display())]
pub struct RecordingError {
    /// The file or directory involved.
    pub path: PathBuf,
    /// The underlying error.
    #[source]
    pub source: io::Error,
}

/// Writes and reads the recordings of every stream under one directory.
#[derive(Debug, Clone)]
pub struct Recorder {
    root: PathBuf,
}

impl Recorder {
    /// A recorder rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The directory holding one stream's recording.
    pub fn stream_dir(&self, stream: &str) -> PathBuf {
        self.root.join(stream)
    }

    /// Where segment `seq` of `rendition` is recorded.
    pub fn segment_path(
        &self,
        stream: &str,
        rendition: &str,
        seq: u64,
        container: SegmentFormat,
    ) -> PathBuf {
        self.stream_dir(stream)
            .join(rendition)
            .join(format!("{seq}.{container}"))
    }

    /// Writes segment `seq` of every rendition. Either every file is in place (replacing an
    /// earlier push of the same `seq`) or the recording is left as it was.
    pub async fn write_segments(
        &self,
        stream: &str,
        seq: u64,
        renditions: &[RenditionOut],
    ) -> Result<(), RecordingError> {
        let mut staged = Vec::with_capacity(renditions.len());
        for r in renditions {
            let path = self.segment_path(stream, &r.name, seq, r.container);
            match stage(&path, &r.bytes).await {
                Ok(partial) => staged.push((partial, path)),
                Err(err) => {
                    discard(&staged).await;
                    return Err(err);
                }
            }
        }
        for (index, (partial, path)) in staged.iter().enumerate() {
            if let Err(source) = fs::rename(partial, path).await {
                discard(&staged[index..]).await;
                return Err(RecordingError {
                    path: path.clone(),
                    source,
                });
            }
        }
        Ok(())
    }

    /// Rewrites the stream's media playlists and master playlist from `state`.
    pub async fn write_playlists(
        &self,
        stream: &str,
        state: &StreamState,
    ) -> Result<(), RecordingError> {
        let dir = self.stream_dir(stream);
        for r in &state.renditions {
            let text = playlist::media(r, state.ended, MediaView::Recording);
            write_atomically(&dir.join(format!("{}.m3u8", r.name)), text.as_bytes()).await?;
        }
        write_atomically(&dir.join("index.m3u8"), playlist::master(state).as_bytes()).await
    }

    /// Whether `stream` was recorded and ended: its first media playlist ends in
    /// `EXT-X-ENDLIST`. Reads the master playlist and the last bytes of that one only.
    pub async fn ended(&self, stream: &str) -> Result<bool, RecordingError> {
        let dir = self.stream_dir(stream);
        tokio::task::spawn_blocking(move || recorded_end(&dir))
            .await
            .map_err(|err| RecordingError {
                path: PathBuf::new(),
                source: io::Error::other(err),
            })?
    }

    /// Reads a recorded segment back, for segments that left the live window.
    pub async fn read_segment(
        &self,
        stream: &str,
        rendition: &str,
        seq: u64,
        container: SegmentFormat,
    ) -> Result<Bytes, RecordingError> {
        let path = self.segment_path(stream, rendition, seq, container);
        match fs::read(&path).await {
            Ok(bytes) => Ok(Bytes::from(bytes)),
            Err(source) => Err(RecordingError { path, source }),
        }
    }
}

fn recorded_end(dir: &Path) -> Result<bool, RecordingError> {
    const ENDLIST: &[u8] = b"#EXT-X-ENDLIST\n";
    let failed = |path: &Path| {
        let path = path.to_owned();
        move |source| RecordingError { path, source }
    };
    let master = dir.join("index.m3u8");
    let text = match std::fs::read_to_string(&master) {
        Ok(text) => text,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(err) => return Err(failed(&master)(err)),
    };
    let Some(media) = text
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with('#'))
    else {
        return Ok(false);
    };
    let path = dir.join(media);
    let mut file = match std::fs::File::open(&path) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(err) => return Err(failed(&path)(err)),
    };
    let len = file.metadata().map_err(failed(&path))?.len();
    let from = len.saturating_sub(ENDLIST.len() as u64);
    file.seek(SeekFrom::Start(from)).map_err(failed(&path))?;
    let mut tail = Vec::with_capacity(ENDLIST.len());
    file.read_to_end(&mut tail).map_err(failed(&path))?;
    Ok(tail == ENDLIST)
}

async fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), RecordingError> {
    let partial = stage(path, bytes).await?;
    fs::rename(&partial, path)
        .await
        .map_err(|source| RecordingError {
            path: path.to_owned(),
            source,
        })
}

/// Writes `bytes` next to `path` under a temporary name and returns that name.
async fn stage(path: &Path, bytes: &[u8]) -> Result<PathBuf, RecordingError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)
        .await
        .map_err(|source| RecordingError {
            path: dir.to_owned(),
            source,
        })?;
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    fs::write(&partial, bytes)
        .await
        .map_err(|source| RecordingError {
            path: partial.clone(),
            source,
        })?;
    Ok(partial)
}

async fn discard(staged: &[(PathBuf, PathBuf)]) {
    for (partial, _) in staged {
        if let Err(err) = fs::remove_file(partial).await {
            tracing::warn!(path = %partial.display(), %err, "could not remove a staged recording file");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendition(name: &str, byte: u8) -> RenditionOut {
        RenditionOut {
            name: name.into(),
            width: 426,
            height: 240,
            bandwidth_bps: 400_000,
            codecs: None,
            container: SegmentFormat::Ts,
            bytes: Bytes::from(vec![byte; 376]),
            duration_s: 2.0,
        }
    }

    #[tokio::test]
    async fn segments_and_playlists_land_in_the_documented_layout() {
        let dir = tempfile::tempdir().unwrap();
        let recorder = Recorder::new(dir.path());
        let renditions = [rendition("360p", 1), rendition("240p", 2)];
        recorder.write_segments("s", 7, &renditions).await.unwrap();
        let mut state = StreamState::default();
        state.publish(7, &renditions, 6);
        state.ended = true;
        recorder.write_playlists("s", &state).await.unwrap();

        let read = recorder
            .read_segment("s", "240p", 7, SegmentFormat::Ts)
            .await
            .unwrap();
        assert_eq!(read, renditions[1].bytes);
        let media = std::fs::read_to_string(dir.path().join("s/360p.m3u8")).unwrap();
        assert!(media.contains("360p/7.ts") && media.ends_with("#EXT-X-ENDLIST\n"));
        assert!(dir.path().join("s/index.m3u8").is_file());
        assert!(recorder.ended("s").await.unwrap());
        assert!(!recorder.ended("never").await.unwrap());
        state.ended = false;
        recorder.write_playlists("s", &state).await.unwrap();
        assert!(!recorder.ended("s").await.unwrap());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("s/360p"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, vec!["7.ts"]);
    }

    #[tokio::test]
    async fn a_failed_write_leaves_no_segment_behind() {
        let dir = tempfile::tempdir().unwrap();
        let recorder = Recorder::new(dir.path());
        // A file where the second rendition's directory should be makes its write fail.
        std::fs::create_dir_all(dir.path().join("s")).unwrap();
        std::fs::write(dir.path().join("s/240p"), b"in the way").unwrap();
        let renditions = [rendition("360p", 1), rendition("240p", 2)];
        assert!(recorder.write_segments("s", 0, &renditions).await.is_err());
        let left: Vec<_> = std::fs::read_dir(dir.path().join("s/360p"))
            .unwrap()
            .collect();
        assert!(left.is_empty());
    }
}
