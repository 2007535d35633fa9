//! A rendered picture: 32-bit `0x00RRGGBB` pixels row by row, and its PNG
//! encoding (8-bit RGB, no alpha) for screenshots.

use std::fmt;
use std::path::Path;

/// Errors writing or reading a frame as PNG.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The file could not be written or read.
    #[error("cannot write or read the image file: {0}")]
    Io(#[from] std::io::Error),
    /// The PNG encoder refused the frame.
    #[error("cannot encode the frame as PNG: {0}")]
    Encode(String),
    /// The bytes are not a PNG this module reads (8-bit RGB or RGBA).
    #[error("cannot decode the PNG: {0}")]
    Decode(String),
}

/// One picture of the screen.
#[derive(Clone, PartialEq, Eq)]
pub struct Frame {
    /// Pixels per line.
    pub width: u32,
    /// Lines.
    pub height: u32,
    /// `width * height` pixels, row by row, each `0x00RRGGBB`.
    pub pixels: Vec<u32>,
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Frame({}x{})", self.width, self.height)
    }
}

impl Frame {
    /// A black frame (at least 1×1).
    pub fn new(width: u32, height: u32) -> Self {
        let (width, height) = (width.max(1), height.max(1));
        Self {
            width,
            height,
            pixels: vec![0; width as usize * height as usize],
        }
    }

    /// The pixel at (`x`, `y`) as `0x00RRGGBB`.
    ///
    /// # Panics
    /// If the point is outside the frame.
    pub fn pixel(&self, x: u32, y: u32) -> u32 {
        assert!(x < self.width && y < self.height, "({x}, {y}) outside {self:?}");
        self.pixels[(y * self.width + x) as usize]
    }

    /// Line `y`.
    pub fn line(&self, y: u32) -> &[u32] {
        let w = self.width as usize;
        &self.pixels[y as usize * w..(y as usize + 1) * w]
    }

    /// Line `y`, writable.
    pub fn line_mut(&mut self, y: u32) -> &mut [u32] {
        let w = self.width as usize;
        &mut self.pixels[y as usize * w..(y as usize + 1) * w]
    }

    /// The pixels as packed 8-bit R, G, B triples.
    pub fn rgb_bytes(&self) -> Vec<u8> {
        self.pixels
            .iter()
            .flat_map(|&p| [(p >> 16) as u8, (p >> 8) as u8, p as u8])
            .collect()
    }

    /// The frame as a PNG file (8-bit RGB).
    ///
    /// # Errors
    /// Only if the encoder refuses the dimensions.
    pub fn to_png(&self) -> Result<Vec<u8>, FrameError> {
        let enc = |e: png::EncodingError| FrameError::Encode(e.to_string());
        let mut out = Vec::new();
        {
            let mut e = png::Encoder::new(&mut out, self.width, self.height);
            e.set_color(png::ColorType::Rgb);
            e.set_depth(png::BitDepth::Eight);
            let mut w = e.write_header().map_err(enc)?;
            w.write_image_data(&self.rgb_bytes()).map_err(enc)?;
            w.finish().map_err(enc)?;
        }
        Ok(out)
    }

    /// Write the frame to `path` as PNG.
    ///
    /// # Errors
    /// The file cannot be created or written.
    pub fn write_png(&self, path: &Path) -> Result<(), FrameError> {
        std::fs::write(path, self.to_png()?)?;
        Ok(())
    }

    /// Read a PNG (8-bit RGB or RGBA; alpha is dropped) back into a frame.
    ///
    /// # Errors
    /// Not a PNG, or another colour type or depth.
    pub fn from_png(bytes: &[u8]) -> Result<Self, FrameError> {
        let dec = |e: png::DecodingError| FrameError::Decode(e.to_string());
        let mut r = png::Decoder::new(std::io::Cursor::new(bytes))
            .read_info()
            .map_err(dec)?;
        let size = r
            .output_buffer_size()
            .ok_or_else(|| FrameError::Decode("image too large".into()))?;
        let mut buf = vec![0; size];
        let info = r.next_frame(&mut buf).map_err(dec)?;
        let step = match (info.color_type, info.bit_depth) {
            (png::ColorType::Rgb, png::BitDepth::Eight) => 3,
            (png::ColorType::Rgba, png::BitDepth::Eight) => 4,
            other => return Err(FrameError::Decode(format!("unsupported format {other:?}"))),
        };
        let (w, h) = (info.width as usize, info.height as usize);
        let mut pixels = Vec::with_capacity(w * h);
        for row in buf[..info.buffer_size()].chunks(info.line_size).take(h) {
            pixels.extend(
                row[..w * step]
                    .chunks(step)
                    .map(|c| u32::from(c[0]) << 16 | u32::from(c[1]) << 8 | u32::from(c[2])),
            );
        }
        Ok(Self {
            width: info.width,
            height: info.height,
            pixels,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_round_trip() {
        let mut f = Frame::new(37, 5);
        for (i, p) in f.pixels.iter_mut().enumerate() {
            *p = (i as u32).wrapping_mul(0x0012_3457) & 0xFF_FFFF;
        }
        let png = f.to_png().unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(Frame::from_png(&png).unwrap(), f);
        let dir = std::env::temp_dir().join(format!("strachey-frame-{}.png", std::process::id()));
        f.write_png(&dir).unwrap();
        assert_eq!(Frame::from_png(&std::fs::read(&dir).unwrap()).unwrap(), f);
        std::fs::remove_file(&dir).unwrap();
        assert!(matches!(
            Frame::from_png(b"not a png"),
            Err(FrameError::Decode(_))
        ));
    }

    #[test]
    fn pixel_access() {
        let mut f = Frame::new(0, 0);
        assert_eq!((f.width, f.height), (1, 1));
        f.line_mut(0)[0] = 0x123456;
        assert_eq!(f.pixel(0, 0), 0x123456);
        assert_eq!(f.rgb_bytes(), [0x12, 0x34, 0x56]);
    }
}
