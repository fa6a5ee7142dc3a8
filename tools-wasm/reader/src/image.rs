//! Images: what they are, without pixels (no vision model is configured).

use crate::{Format, Out, ReadError};

pub fn describe(format: Format, bytes: &[u8], out: &mut Out) -> Result<(), ReadError> {
    let Format::Image(kind) = format else { unreachable!("describe is for images") };
    let size = imagesize::blob_size(bytes)
        .map_err(|e| ReadError::Corrupt { format, detail: format!("its {kind} header does not parse: {e}") })?;
    out.line(&format!(
        "{kind} image, {} x {} pixels, {} bytes. No vision model is configured, so its content cannot be \
         described here; to work with its pixels, upload it to a sandbox.",
        size.width,
        size.height,
        bytes.len()
    ));
    Ok(())
}
