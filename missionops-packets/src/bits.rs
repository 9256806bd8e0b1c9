//! Reading fields of 1 to 64 bits at any bit offset.

/// The `bits`-wide field (1–64) starting `bit` bits into `data`, most significant bit first,
/// as an unsigned integer. The caller has checked that the field lies inside `data`.
#[inline]
pub(crate) fn read_be(data: &[u8], bit: usize, bits: u8) -> u64 {
    let first = bit / 8;
    let shift = bit % 8;
    // The common case: the field lies within 8 bytes that the packet has; one load.
    if shift + usize::from(bits) <= 64
        && let Some(word) = data.get(first..first + 8)
        && let Ok(word) = <[u8; 8]>::try_from(word)
    {
        let word = u64::from_be_bytes(word) << shift;
        return word >> (64 - u32::from(bits));
    }
    let last = (bit + usize::from(bits)).div_ceil(8);
    // At most 9 bytes (a 64-bit field 7 bits into a byte), which a u128 holds.
    let mut acc: u128 = 0;
    for &byte in &data[first..last] {
        acc = (acc << 8) | u128::from(byte);
    }
    let span = (last - first) * 8;
    let value = acc >> (span - shift - usize::from(bits));
    (value & (u128::MAX >> (128 - u32::from(bits)))) as u64
}

/// The field read as [`read_be`] with its bytes reversed (`bits` a multiple of 8).
#[inline]
pub(crate) fn read_le(data: &[u8], bit: usize, bits: u8) -> u64 {
    read_be(data, bit, bits).swap_bytes() >> (64 - u32::from(bits))
}

/// `raw`, the low `bits` bits of a two's complement number, sign-extended.
#[inline]
pub(crate) fn sign_extend(raw: u64, bits: u8) -> i64 {
    let unused = 64 - u32::from(bits);
    ((raw << unused) as i64) >> unused
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_across_byte_boundaries() {
        let data = [0b1010_1100, 0b0101_0011, 0xff];
        assert_eq!(read_be(&data, 0, 1), 1);
        assert_eq!(read_be(&data, 1, 3), 0b010);
        assert_eq!(read_be(&data, 4, 8), 0b1100_0101);
        assert_eq!(read_be(&data, 0, 24), 0xac53ff);
    }

    #[test]
    fn reads_the_same_with_and_without_eight_bytes_ahead() {
        let data = [0xde, 0xad, 0xbe, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab];
        for bit in 0..16 {
            for bits in 1..=57u8 {
                let end = (bit + usize::from(bits)).div_ceil(8);
                // The short slice forces the byte loop, the long one the single load.
                assert_eq!(read_be(&data[..end], bit, bits), read_be(&data, bit, bits));
            }
        }
    }

    #[test]
    fn reads_64_bit_fields_at_odd_offsets() {
        let data = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x80];
        assert_eq!(read_be(&data, 0, 64), 0x0123_4567_89ab_cdef);
        assert_eq!(read_be(&data, 1, 64), 0x0246_8acf_1357_9bdf);
    }

    #[test]
    fn little_endian_reverses_the_bytes_and_sign_extension_keeps_the_sign() {
        let data = [0x34, 0x12];
        assert_eq!(read_le(&data, 0, 16), 0x1234);
        assert_eq!(sign_extend(0b111, 3), -1);
        assert_eq!(sign_extend(0b011, 3), 3);
        assert_eq!(sign_extend(u64::MAX, 64), -1);
    }
}
