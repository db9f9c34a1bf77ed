//! A file as the parsers read it: UTF-8 with `\n` line ends, whatever a spreadsheet wrote.
//!
//! - Excel's "CSV UTF-8" starts with a byte order mark. It goes before the CSV parser sees the
//!   file: a parser only opens a quoted field at its very start, so `\u{feff}"account_id"` would
//!   be read as a header named `"account_id"` with its quotes.
//! - Japanese Excel's plain "CSV (comma delimited)" is Shift_JIS (Windows-31J, with ①, ㈱ and
//!   the other vendor characters). A file that is not UTF-8 but reads as Shift_JIS is decoded.
//! - Excel ends lines with CRLF. The csv crate counts such lines one short, so an error would
//!   name the line before; CRLF becomes LF before it counts.

use std::io::{self, Read};

/// How much of the file decides its encoding: at least this much, and on to the first byte
/// that is not ASCII (a Shift_JIS file may open with thousands of ASCII rows), up to
/// [`SNIFF_MAX`].
const SNIFF: usize = 64 * 1024;
const SNIFF_MAX: usize = 16 * 1024 * 1024;

/// What the file was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    ShiftJis,
}

/// `input` as UTF-8 (when it was UTF-8 or Shift_JIS; anything else passes through for the
/// parsers to refuse, naming the line) without a byte order mark, with `\n` line ends.
pub fn normalized(mut input: impl Read + Send + 'static) -> io::Result<(Box<dyn Read + Send>, Encoding)> {
    let mut head = Vec::with_capacity(SNIFF);
    let cut = loop {
        let before = head.len();
        (&mut input).take(SNIFF as u64).read_to_end(&mut head)?;
        let cut = head.len() - before == SNIFF;
        if !cut || !head[before..].is_ascii() || head.len() >= SNIFF_MAX {
            break cut;
        }
    };
    let crlf = memchr::memmem::find(&head, b"\r\n").is_some();
    let (body, encoding): (Box<dyn Read + Send>, Encoding) = if let Some(rest) = head.strip_prefix(b"\xEF\xBB\xBF") {
        (Box::new(io::Cursor::new(rest.to_vec()).chain(input)), Encoding::Utf8)
    } else if is_shift_jis(&head, cut) {
        let decoded = encoding_rs_io::DecodeReaderBytesBuilder::new().encoding(Some(encoding_rs::SHIFT_JIS)).build(io::Cursor::new(head).chain(input));
        (Box::new(decoded), Encoding::ShiftJis)
    } else {
        (Box::new(io::Cursor::new(head).chain(input)), Encoding::Utf8)
    };
    // Only files that use CRLF pay for the pass that removes it.
    Ok((if crlf { Box::new(CrlfToLf::new(body)) } else { body }, encoding))
}

/// True when `head` (the file's start; `cut`: the file goes on after it) is not UTF-8 but reads
/// as Shift_JIS without a single undecodable byte. A file whose first non-ASCII text is UTF-8
/// stays UTF-8, so a damaged UTF-8 file is refused by line rather than read as Shift_JIS.
fn is_shift_jis(head: &[u8], cut: bool) -> bool {
    match std::str::from_utf8(head) {
        Ok(_) => return false,
        // A character cut by the end of the sniffed part is still UTF-8.
        Err(e) if cut && e.error_len().is_none() => return false,
        Err(e) if !head[..e.valid_up_to()].is_ascii() => return false,
        Err(_) => {}
    }
    // Decoded as a stream that goes on when cut: a two-byte character cut at the end is not an
    // error.
    let mut decoder = encoding_rs::SHIFT_JIS.new_decoder_without_bom_handling();
    let mut out = String::with_capacity(decoder.max_utf8_buffer_length_without_replacement(head.len()).unwrap_or(head.len() * 3));
    let (result, _) = decoder.decode_to_string_without_replacement(head, &mut out, !cut);
    matches!(result, encoding_rs::DecoderResult::InputEmpty)
}

/// Reads `inner` with every `\r\n` made `\n` (a lone `\r` stays).
struct CrlfToLf<R> {
    inner: R,
    buf: Box<[u8]>,
    pos: usize,
    len: usize,
    /// A `\r` was the last byte read: kept or dropped by the byte after it.
    cr: bool,
}

impl<R: Read> CrlfToLf<R> {
    fn new(inner: R) -> Self {
        CrlfToLf { inner, buf: vec![0; 64 * 1024].into_boxed_slice(), pos: 0, len: 0, cr: false }
    }
}

impl<R: Read> Read for CrlfToLf<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            if self.pos == self.len {
                self.len = self.inner.read(&mut self.buf)?;
                self.pos = 0;
                if self.len == 0 {
                    // The file ended on a lone `\r`: it stays.
                    if std::mem::take(&mut self.cr) {
                        out[0] = b'\r';
                        return Ok(1);
                    }
                    return Ok(0);
                }
            }
            let mut w = 0;
            if std::mem::take(&mut self.cr) && self.buf[self.pos] != b'\n' {
                out[0] = b'\r';
                w = 1;
            }
            while w < out.len() && self.pos < self.len {
                let take = (self.len - self.pos).min(out.len() - w);
                let src = &self.buf[self.pos..self.pos + take];
                match memchr::memchr(b'\r', src) {
                    None => {
                        out[w..w + take].copy_from_slice(src);
                        w += take;
                        self.pos += take;
                    }
                    Some(i) => {
                        out[w..w + i].copy_from_slice(&src[..i]);
                        w += i;
                        self.pos += i + 1;
                        // Decided by the next byte: now if it is here and there is room.
                        if self.pos < self.len && w < out.len() {
                            if self.buf[self.pos] != b'\n' {
                                out[w] = b'\r';
                                w += 1;
                            }
                        } else {
                            self.cr = true;
                            break;
                        }
                    }
                }
            }
            if w > 0 {
                return Ok(w);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Hands out at most `step` bytes per read, to cut lines and characters anywhere.
    struct Trickle(Vec<u8>, usize, usize);

    impl Read for Trickle {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.2.min(out.len()).min(self.0.len() - self.1);
            out[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
            self.1 += n;
            Ok(n)
        }
    }

    fn read_all(r: &mut dyn Read, step: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = vec![0; step];
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                return out;
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    fn text(bytes: &[u8]) -> (String, Encoding) {
        let (mut r, e) = normalized(Trickle(bytes.to_vec(), 0, 7)).unwrap();
        (String::from_utf8(read_all(&mut r, 5)).unwrap(), e)
    }

    #[test]
    fn what_excel_writes() {
        assert_eq!(text(b"\xEF\xBB\xBF\"account_id\",\"mrr\"\r\nA1,100\r\n"), ("\"account_id\",\"mrr\"\nA1,100\n".into(), Encoding::Utf8));
        // 顧客名,株式会社さくら in Shift_JIS, as Japanese Excel saves "CSV (comma delimited)".
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("account_id,name\r\nA1,株式会社さくら①\r\n");
        assert_eq!(text(&sjis), ("account_id,name\nA1,株式会社さくら①\n".into(), Encoding::ShiftJis));
        assert_eq!(text("a,b\nA1,日本\n".as_bytes()), ("a,b\nA1,日本\n".into(), Encoding::Utf8));
        // Neither UTF-8 nor Shift_JIS: passed through for the parser to refuse by line.
        let (mut r, e) = normalized(io::Cursor::new(b"a\n\xFF\xFF\n".to_vec())).unwrap();
        assert_eq!((read_all(&mut r, 64), e), (b"a\n\xFF\xFF\n".to_vec(), Encoding::Utf8));
    }

    #[test]
    fn a_long_shift_jis_file_is_found_wherever_the_sniff_cuts_it() {
        // Hiragana throughout: the sniff may end on either byte of a character.
        for ascii_rows in [0, 1, 3, 12_000] {
            let mut file = "account_id,name\n".to_string();
            for i in 0..ascii_rows {
                file.push_str(&format!("A{i},Acme\n"));
            }
            for i in 0..20_000 {
                file.push_str(&format!("J{i},さくらのはなびら\n"));
            }
            let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(&file);
            assert!(sjis.len() > SNIFF);
            let (got, e) = text(&sjis);
            assert_eq!((e, got == file), (Encoding::ShiftJis, true), "{ascii_rows} ASCII rows first");
        }
        // UTF-8 text, then a damaged byte: UTF-8 (refused by line later), not Shift_JIS.
        let (_, e) = normalized(io::Cursor::new([b"a,b\nA1,\xE6\x97\xA5\n".as_slice(), b"A2,\xE3\x81\n"].concat())).unwrap();
        assert_eq!(e, Encoding::Utf8);
    }

    #[test]
    fn a_long_utf8_file_cut_inside_a_character_is_still_utf8() {
        let mut file = "x".repeat(SNIFF - 1).into_bytes();
        file.extend_from_slice("日本\n".as_bytes());
        assert_eq!(text(&file).1, Encoding::Utf8);
    }

    proptest! {
        #[test]
        fn crlf_becomes_lf_wherever_reads_cut(s in "[a\r\n]{0,40}", inner in 1usize..6, outer in 1usize..6) {
            let mut r = CrlfToLf::new(Trickle(s.clone().into_bytes(), 0, inner));
            prop_assert_eq!(String::from_utf8(read_all(&mut r, outer)).unwrap(), s.replace("\r\n", "\n"));
        }
    }
}
