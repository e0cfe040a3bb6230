//! OpenCV's wechat_qrcode as the second QR decoder (cargo feature `wechat`, on by default):
//! it reads codes that x264 has blurred at low bitrates where rqrr gives up, at a higher cost,
//! so the tracker only gives it crops.

use opencv::core::{Mat, Vector};
use opencv::prelude::*;
use opencv::wechat_qrcode::WeChatQRCode;
use signal::Timecode;

use crate::qr::{GrayFrame, QrMiss};

/// A wechat_qrcode detector without its CNN models (Debian ships none; the classic detector
/// alone reads our large-module codes).
pub struct WechatReader {
    inner: WeChatQRCode,
}

impl std::fmt::Debug for WechatReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WechatReader")
    }
}

impl WechatReader {
    /// None when OpenCV cannot create the detector (logged once by the caller).
    pub fn new() -> Option<Self> {
        match WeChatQRCode::new("", "", "", "") {
            Ok(inner) => Some(Self { inner }),
            Err(e) => {
                tracing::warn!("wechat_qrcode unavailable: {e}");
                None
            }
        }
    }

    /// Decode the first valid signal-v1 timecode in `frame`.
    pub fn decode(&mut self, frame: GrayFrame<'_>) -> Result<Timecode, QrMiss> {
        let mat = Mat::new_rows_cols_with_data(frame.height as i32, frame.width as i32, frame.data)
            .map_err(|e| QrMiss::Undecodable(e.to_string()))?;
        let mut points = Vector::<Mat>::new();
        let texts = self
            .inner
            .detect_and_decode(&mat, &mut points)
            .map_err(|e| QrMiss::Undecodable(e.to_string()))?;
        let mut miss = QrMiss::NotFound;
        for text in texts {
            match Timecode::from_payload(&text) {
                Ok(tc) => return Ok(tc),
                Err(e) => miss = QrMiss::Payload(e),
            }
        }
        Err(miss)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use generator::{Compositor, PictureSize, Placement};

    #[test]
    fn reads_a_stamped_frame() {
        let size = PictureSize {
            width: 640,
            height: 360,
        };
        let mut buf = vec![100u8; size.frame_len()];
        let tc = Timecode {
            stream_id: 4,
            frame: 12,
            capture_us: 1_795_262_400_000_000,
        };
        Compositor::new(size, &Placement::default())
            .unwrap()
            .stamp(&mut buf, &tc)
            .unwrap();
        let mut r = WechatReader::new().expect("wechat_qrcode");
        let luma = &buf[..size.luma_len()];
        assert_eq!(r.decode(GrayFrame::new(640, 360, luma).unwrap()), Ok(tc));
        let blank = vec![128u8; 640 * 360];
        assert!(r.decode(GrayFrame::new(640, 360, &blank).unwrap()).is_err());
    }
}
