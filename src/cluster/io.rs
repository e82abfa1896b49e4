//! Reading points and labels from text files, gzip-compressed or not.
//!
//! One row per line, values separated by whitespace (commas are accepted too); blank lines
//! and lines starting with `#` are skipped. Compression is recognised by the gzip magic
//! bytes, not by the file name.

use std::io::Read;
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::error::ClusterError;
use super::points::Points;

#[derive(Debug, Error)]
pub enum ReadError {
    #[error("cannot read {path}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: cannot parse {token:?} as a number")]
    Number {
        path: PathBuf,
        line: usize,
        token: String,
    },
    #[error("{path}:{line}: unusable points")]
    Points {
        path: PathBuf,
        line: usize,
        source: ClusterError,
    },
}

/// Reads a matrix of points. Values are kept as `f64`: text data is usually written in
/// decimals, and rounding them to `f32` would change which distances tie.
pub fn read_points(path: &Path) -> Result<Points<f64>, ReadError> {
    let text = read_text(path)?;
    let mut data = Vec::new();
    let mut dim = None;
    let mut lines = Vec::new();
    for (line, row) in rows(&text) {
        let start = data.len();
        for token in row {
            data.push(parse::<f64>(path, line, token)?);
        }
        let got = data.len() - start;
        let expected = *dim.get_or_insert(got);
        if got != expected {
            return Err(ReadError::Points {
                path: path.to_owned(),
                line,
                source: ClusterError::RowLength {
                    row: lines.len(),
                    got,
                    expected,
                },
            });
        }
        lines.push(line);
    }
    Points::new(data, dim.unwrap_or(0)).map_err(|source| {
        let row = match &source {
            ClusterError::NotFinite { row } | ClusterError::ZeroVector { row } => *row,
            _ => 0,
        };
        ReadError::Points {
            path: path.to_owned(),
            line: lines.get(row).copied().unwrap_or(0),
            source,
        }
    })
}

/// Reads integer labels, one or more per line, in order.
pub fn read_labels(path: &Path) -> Result<Vec<i64>, ReadError> {
    let text = read_text(path)?;
    let mut labels = Vec::new();
    for (line, row) in rows(&text) {
        for token in row {
            labels.push(parse::<i64>(path, line, token)?);
        }
    }
    Ok(labels)
}

fn read_text(path: &Path) -> Result<String, ReadError> {
    let io = |source| ReadError::Io {
        path: path.to_owned(),
        source,
    };
    let bytes = std::fs::read(path).map_err(io)?;
    let mut text = String::new();
    if bytes.starts_with(&[0x1f, 0x8b]) {
        flate2::read::MultiGzDecoder::new(bytes.as_slice())
            .read_to_string(&mut text)
            .map_err(io)?;
    } else {
        text = String::from_utf8(bytes)
            .map_err(|e| io(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
    }
    Ok(text)
}

/// Non-empty, non-comment lines (1-based line numbers) split into tokens.
fn rows(text: &str) -> impl Iterator<Item = (usize, impl Iterator<Item = &str>)> {
    text.lines().enumerate().filter_map(|(i, line)| {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        let tokens = line
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|t| !t.is_empty());
        Some((i + 1, tokens))
    })
}

fn parse<T: std::str::FromStr>(path: &Path, line: usize, token: &str) -> Result<T, ReadError> {
    token.parse().map_err(|_| ReadError::Number {
        path: path.to_owned(),
        line,
        token: token.to_owned(),
    })
}
